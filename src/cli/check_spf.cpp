// `tern check spf --ip IP --helo NAME [--sender ADDR] [--dns HOST:PORT]
// [--receiver NAME] [--timeout S] [--identity mailfrom|helo]` (no --sender:
// the null reverse-path, so the identity is postmaster@HELO): evaluates SPF
// (RFC 7208) the way ternd does for incoming mail and prints the result word
// alone on the first line, then "explanation: ..." when the domain gave one,
// then "key: value" details. Exit 0 whenever a result was computed, whatever
// it is; 2 for usage or setup trouble.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <future>
#include <memory>
#include <string>

#include "base/strings.hpp"
#include "cli/check_commands.hpp"
#include "services/dns/unbound_resolver.hpp"
#include "services/spf/spf_evaluator.hpp"

namespace tern::cli {
namespace {

struct Options {
  std::string dns;
  std::string ip;
  std::string helo;
  std::string sender;
  std::string receiver;
  std::string identity = "mailfrom";
  double timeout = 0;  // seconds per DNS lookup; 0: the configuration's [dns] timeout
};

void usage_error(const std::string& text) {
  std::fprintf(stderr, "tern: %s\n", text.c_str());
  set_check_failed(2);
}

void print(const spf::SpfOutcome& out) {
  std::printf("%s\n", std::string(auth::to_string(out.result)).c_str());
  // The explanation is the domain's text: keep it on one line.
  if (!out.explanation.empty()) std::printf("explanation: %s\n", log_escape(out.explanation, 1000).c_str());
  std::printf("identity: %s\n", out.identity.c_str());
  std::printf("domain: %s\n", log_escape(out.domain).c_str());
  std::printf("sender: %s\n", log_escape(out.sender).c_str());
  if (!out.detail.empty()) std::printf("detail: %s\n", log_escape(out.detail, 1000).c_str());
}

void run(const Options& opt, const std::function<Config()>& load_config) {
  auto ip = IpAddress::parse(opt.ip);
  if (!ip) return usage_error("--ip: not an IPv4 or IPv6 address: " + opt.ip);
  if (opt.identity != "mailfrom" && opt.identity != "helo")
    return usage_error("--identity must be mailfrom or helo");
  if (!(opt.timeout >= 0) || opt.timeout > 3600) return usage_error("--timeout: 0 to 3600 seconds");

  auto resolver = check_resolver(opt.dns, opt.timeout, load_config);
  if (!resolver) return usage_error(resolver.error().detail);

  spf::SpfRequest request{*ip, opt.helo, opt.sender, opt.receiver};
  std::promise<spf::SpfOutcome> promise;
  auto future = promise.get_future();
  // The callback may run on the resolver's thread; the promise hands the
  // outcome back to this one.
  auto done = [&promise](spf::SpfOutcome out) { promise.set_value(std::move(out)); };
  if (opt.identity == "helo") {
    spf::check_spf_helo(**resolver, request, done);
  } else {
    spf::check_spf(**resolver, request, done);
  }
  auto outcome = future.get();
  (*resolver)->stop();
  print(outcome);
}

}  // namespace

void add_check_spf(CLI::App& check, std::function<Config()> load_config) {
  auto opt = std::make_shared<Options>();
  auto* cmd = check.add_subcommand("spf", "evaluate SPF (RFC 7208) for a client address, HELO name and sender");
  cmd->add_option("--ip", opt->ip, "the SMTP client's address")->required();
  cmd->add_option("--helo", opt->helo, "the HELO/EHLO name")->required();
  cmd->add_option("--sender", opt->sender, "the MAIL FROM address (omit it for the null reverse-path)");
  cmd->add_option("--receiver", opt->receiver, "this host's name, for %{r} in explanations");
  cmd->add_option("--identity", opt->identity, "mailfrom (default) or helo (RFC 7208 §2.3)");
  cmd->add_option("--dns", opt->dns, "DNS server to ask, HOST:PORT (default: the configuration's [dns] servers)");
  cmd->add_option("--timeout", opt->timeout,
                  "seconds per DNS lookup, fractions allowed (default: the configuration's [dns] timeout)");
  cmd->callback([opt, load_config] { run_check([&] { run(*opt, load_config); }); });
}

}  // namespace tern::cli
