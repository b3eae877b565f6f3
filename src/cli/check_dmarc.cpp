// `tern check dmarc [--dns HOST:PORT] [--timeout S] (--from DOMAIN | < message)
// [--spf RESULT[:DOMAIN]] [--dkim RESULT:DOMAIN]... [--psl FILE]`: the DMARC
// evaluation ternd does (dmarc_evaluator), fed the SPF and DKIM results on the
// command line, so an administrator can see what a domain's policy does.
// Prints the result word first, then policy, disposition, policy domain and
// alignment. Exit 0 whenever a result was computed; 2 for usage or setup trouble.
#include <chrono>
#include <cstdio>
#include <future>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/check_commands.hpp"
#include "services/dmarc/dmarc_evaluator.hpp"
#include "services/dmarc/header_from.hpp"
#include "services/dns/unbound_resolver.hpp"

namespace tern::cli {
namespace {

struct Options {
  std::string dns;
  unsigned timeout = 0;  // seconds; 0: the configuration's [dns] timeout
  std::string from;
  std::string spf;
  std::vector<std::string> dkim;
  std::string psl = dmarc::kDefaultPublicSuffixList;
};

// A result word of one of the shared enums (auth_results.hpp).
template <typename E>
std::optional<E> parse_word(std::string_view word, std::initializer_list<E> all) {
  for (E e : all)
    if (auth::to_string(e) == word) return e;
  return std::nullopt;
}

std::optional<auth::SpfResult> parse_spf(std::string_view w) {
  using R = auth::SpfResult;
  return parse_word(w, {R::none, R::neutral, R::pass, R::fail, R::softfail, R::temperror, R::permerror});
}
std::optional<auth::DkimResult> parse_dkim(std::string_view w) {
  using R = auth::DkimResult;
  return parse_word(w, {R::none, R::pass, R::fail, R::policy, R::neutral, R::temperror, R::permerror});
}

void usage_error(const std::string& text) {
  std::fprintf(stderr, "tern: %s\n", text.c_str());
  set_check_failed(2);
}

void print(const dmarc::DmarcOutcome& out, const std::string& from) {
  std::printf("%s\n", std::string(auth::to_string(out.result)).c_str());
  std::printf("policy: %s\n", out.policy.c_str());
  std::printf("disposition: %s\n", out.disposition.c_str());
  std::printf("policy_domain: %s\n", out.policy_domain.c_str());
  std::printf("alignment: spf=%s dkim=%s\n", out.spf_aligned ? "yes" : "no", out.dkim_aligned ? "yes" : "no");
  std::printf("header_from: %s\n", from.c_str());
  if (!out.detail.empty()) std::printf("detail: %s\n", out.detail.c_str());
}

void run(const Options& opt, const std::function<Config()>& load_config) {
  dmarc::DmarcInput input;
  if (!opt.from.empty()) {
    input.from_domain = opt.from;
  } else {
    std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    auto domain = dmarc::header_from_domain(text);
    if (!domain) {
      // RFC 7489 §6.6.1: without exactly one From address DMARC does not
      // apply; that is a result (none), not a usage error.
      dmarc::DmarcOutcome none;
      none.detail = domain.error();
      print(none, "");
      return;
    }
    input.from_domain = *domain;
  }
  if (!opt.spf.empty()) {
    auto colon = opt.spf.find(':');
    auto word = parse_spf(opt.spf.substr(0, colon));
    if (!word) return usage_error("--spf: unknown SPF result: " + opt.spf.substr(0, colon));
    input.spf = *word;
    // Without a domain, SPF is taken to have been checked for the From domain.
    input.spf_domain = colon == std::string::npos ? input.from_domain : opt.spf.substr(colon + 1);
  }
  for (const auto& d : opt.dkim) {
    auto colon = d.find(':');
    if (colon == std::string::npos) return usage_error("--dkim wants RESULT:DOMAIN, got " + d);
    auto word = parse_dkim(d.substr(0, colon));
    if (!word) return usage_error("--dkim: unknown DKIM result: " + d.substr(0, colon));
    input.dkim.push_back({*word, d.substr(colon + 1)});
  }

  auto psl = dmarc::load_public_suffix_list(opt.psl);
  if (!psl) return usage_error(psl.error().detail);

  auto resolver = check_resolver(opt.dns, opt.timeout, load_config);
  if (!resolver) return usage_error(resolver.error().detail);

  std::promise<dmarc::DmarcOutcome> promise;
  auto future = promise.get_future();
  std::string from = input.from_domain;
  // The callback runs on the resolver's thread; the promise hands the
  // outcome back to this one. The resolver's own timeout bounds the wait.
  dmarc::evaluate_dmarc(**resolver, *psl, std::move(input),
                        [&promise](dmarc::DmarcOutcome out) { promise.set_value(std::move(out)); });
  auto outcome = future.get();
  (*resolver)->stop();
  print(outcome, from);
}

}  // namespace

void add_check_dmarc(CLI::App& check, std::function<Config()> load_config) {
  auto opt = std::make_shared<Options>();
  auto* cmd = check.add_subcommand(
      "dmarc", "evaluate the DMARC policy of a From domain (--from, or the From: of the message on stdin)");
  cmd->add_option("--dns", opt->dns, "DNS server HOST:PORT (default: the configuration's [dns] servers)");
  cmd->add_option("--timeout", opt->timeout, "seconds per DNS lookup (default: the configuration's)");
  cmd->add_option("--from", opt->from, "RFC5322.From domain (otherwise read a message from stdin)");
  cmd->add_option("--spf", opt->spf, "SPF result and the MAIL FROM domain it was for: RESULT[:DOMAIN]");
  cmd->add_option("--dkim", opt->dkim, "a DKIM signature's result and d=: RESULT:DOMAIN (repeatable)");
  cmd->add_option("--psl", opt->psl, "Public Suffix List file (default: " + opt->psl + ")");
  cmd->callback([opt, load_config] { run_check([&] { run(*opt, load_config); }); });
}

}  // namespace tern::cli
