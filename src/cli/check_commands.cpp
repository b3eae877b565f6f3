#include "cli/check_commands.hpp"

#include <cmath>
#include <cstdio>

namespace tern::cli {
namespace {
int g_exit = 0;
}  // namespace

int check_exit_code() { return g_exit; }
void set_check_failed(int code) { g_exit = code; }

Result<std::unique_ptr<dns::UnboundResolver>> check_resolver(const std::string& dns, double timeout_seconds,
                                                             const std::function<Config()>& load_config) {
  dns::UnboundSettings settings;
  if (!dns.empty()) {
    settings.servers = {dns};
  } else {
    Config cfg = load_config();
    settings.servers = cfg.dns.servers;
    if (timeout_seconds == 0) timeout_seconds = cfg.dns.timeout;
  }
  if (timeout_seconds == 0) timeout_seconds = 10;
  settings.timeout = std::chrono::milliseconds(static_cast<long>(std::ceil(timeout_seconds * 1000)));
  auto resolver = dns::UnboundResolver::create(settings);
  if (resolver) (*resolver)->start_thread();
  return resolver;
}

void run_check(const std::function<void()>& body) {
  try {
    body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tern: %s\n", e.what());
    set_check_failed(2);
  }
}

void add_check_commands(CLI::App& app, std::function<Config()> load_config) {
  auto* check = app.add_subcommand("check", "evaluate SPF, DKIM or DMARC the way ternd does for incoming mail");
  check->require_subcommand(1);
  add_check_spf(*check, load_config);
  add_check_dkim(*check, load_config);
  add_check_dmarc(*check, load_config);
}

}  // namespace tern::cli
