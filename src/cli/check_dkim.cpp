// `tern check dkim [--dns HOST:PORT] [--timeout S] < message`: verifies every
// DKIM-Signature of the message on stdin the way ternd does (dkim_verifier),
// and prints the overall result word, then one line per signature.
// Exit 0 whenever results were computed, whatever they are; 2 for usage or setup trouble.
#include <chrono>
#include <cstdio>
#include <ctime>
#include <future>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>

#include "cli/check_commands.hpp"
#include "services/dkim/dkim_canon.hpp"
#include "services/dkim/dkim_verifier.hpp"
#include "services/dns/unbound_resolver.hpp"

namespace tern::cli {
namespace {

struct Options {
  std::string dns;
  unsigned timeout = 0;  // seconds; 0: the configuration's [dns] timeout
};

void print(const std::vector<dkim::DkimSignatureResult>& results) {
  std::printf("%s\n", std::string(auth::to_string(dkim::overall_result(results))).c_str());
  for (const auto& r : results) {
    std::string line = "signature: d=" + r.domain + " s=" + r.selector + " a=" + r.algorithm +
                       " result=" + std::string(auth::to_string(r.result));
    if (r.weak) line += " weak";
    if (r.testing) line += " testing";
    if (r.unsigned_body_bytes > 0) line += " unsigned_body_bytes=" + std::to_string(r.unsigned_body_bytes);
    if (!r.b_prefix.empty()) line += " header.b=" + r.b_prefix;
    if (!r.detail.empty()) line += " " + r.detail;
    std::printf("%s\n", line.c_str());
  }
}

void run(const Options& opt, const std::function<Config()>& load_config) {
  // Files on disk usually have LF line ends; the wire form has CRLF
  // (RFC 6376 §5.3 asks the same conversion of a signer).
  std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  auto message = std::make_shared<const std::string>(dkim::to_crlf(text));

  auto resolver = check_resolver(opt.dns, opt.timeout, load_config);
  if (!resolver) {
    std::fprintf(stderr, "tern: %s\n", resolver.error().detail.c_str());
    set_check_failed(2);
    return;
  }
  std::promise<std::vector<dkim::DkimSignatureResult>> promise;
  auto future = promise.get_future();
  // The callback may run on the resolver's thread; the promise hands the
  // results back to this one.
  dkim::verify_dkim(**resolver, message, static_cast<std::int64_t>(std::time(nullptr)),
                    [&promise](std::vector<dkim::DkimSignatureResult> results) {
                      promise.set_value(std::move(results));
                    });
  auto results = future.get();
  (*resolver)->stop();
  print(results);
}

}  // namespace

void add_check_dkim(CLI::App& check, std::function<Config()> load_config) {
  auto opt = std::make_shared<Options>();
  auto* cmd = check.add_subcommand("dkim", "verify the DKIM signatures of the message on stdin");
  cmd->add_option("--dns", opt->dns, "DNS server to ask, HOST:PORT (default: the configuration's [dns] servers)");
  cmd->add_option("--timeout", opt->timeout, "seconds per DNS lookup (default: the configuration's [dns] timeout)");
  cmd->callback([opt, load_config] { run_check([&] { run(*opt, load_config); }); });
}

}  // namespace tern::cli
