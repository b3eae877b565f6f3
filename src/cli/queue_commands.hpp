// `tern queue list|show|flush|retry|delete|bounce`: read and change the spool
// of the configured data directory, then tell a running ternd (SIGUSR1).
#pragma once
#include <CLI/CLI.hpp>
#include <functional>

#include "base/config.hpp"

namespace tern::cli {

void add_queue_commands(CLI::App& app, std::function<Config()> load_config);
int exit_code();  // set by the command that ran

}  // namespace tern::cli
