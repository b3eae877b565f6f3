// `tern queue list|show`: read the spool of the configured data directory.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>

#include "base/config.hpp"

namespace tern::cli {

void add_queue_commands(CLI::App& app, std::function<Config()> load_config);
int exit_code();  // set by the command that ran

}  // namespace tern::cli
