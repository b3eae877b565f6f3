// `tern user|domain|alias`: the account database in <data_dir>/accounts.db.
// Passwords come from a prompt (echo off) or --password-stdin, never argv.
// A running ternd is told to re-read the accounts (SIGHUP).
#pragma once
#include <CLI/CLI.hpp>
#include <functional>

#include "base/config.hpp"

namespace tern::cli {

void add_account_commands(CLI::App& app, std::function<Config()> load_config);
int account_exit_code();

}  // namespace tern::cli
