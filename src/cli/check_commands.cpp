#include "cli/check_commands.hpp"

namespace tern::cli {
namespace {
int g_exit = 0;
}  // namespace

int check_exit_code() { return g_exit; }
void set_check_failed(int code) { g_exit = code; }

void add_check_commands(CLI::App& app, std::function<Config()> load_config) {
  auto* check = app.add_subcommand("check", "evaluate SPF, DKIM or DMARC the way ternd does for incoming mail");
  check->require_subcommand(1);
  add_check_spf(*check, load_config);
  add_check_dkim(*check, load_config);
  add_check_dmarc(*check, load_config);
}

}  // namespace tern::cli
