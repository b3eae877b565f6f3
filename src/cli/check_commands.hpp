// `tern check spf|dkim|dmarc`: the inbound authentication checks on the
// command line, against the DNS server an administrator names, so a result
// Tern records for a message can be reproduced (and the RFC 7208 suite can
// drive the SPF code). Each check prints its result word first.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>

#include "base/config.hpp"
#include "base/error.hpp"
#include "services/dns/unbound_resolver.hpp"

namespace tern::cli {

void add_check_commands(CLI::App& app, std::function<Config()> load_config);
int check_exit_code();

// One file per check; each adds its subcommand to `check` and reports a
// usage or setup problem (not a check result) through set_check_failed.
void add_check_spf(CLI::App& check, std::function<Config()> load_config);
void add_check_dkim(CLI::App& check, std::function<Config()> load_config);
void add_check_dmarc(CLI::App& check, std::function<Config()> load_config);
void set_check_failed(int code);

// The resolver a check asks, already running on its own thread: `dns`
// ("HOST:PORT") or else the configuration's [dns] servers; `timeout_seconds`
// per lookup (fractions allowed), 0 for the configuration's [dns] timeout.
Result<std::unique_ptr<dns::UnboundResolver>> check_resolver(const std::string& dns, double timeout_seconds,
                                                             const std::function<Config()>& load_config);
// Runs a check's body; an exception (an unreadable configuration) is a
// setup problem: its message on stderr and exit code 2.
void run_check(const std::function<void()>& body);

}  // namespace tern::cli
