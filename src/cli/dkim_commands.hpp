// `tern dkim keygen|show`: DKIM keys in <data_dir>/dkim/<domain>/<selector>.key
// and the DNS TXT record to publish for them.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>

#include "base/config.hpp"

namespace tern::cli {

void add_dkim_commands(CLI::App& app, std::function<Config()> load_config);
int dkim_exit_code();

}  // namespace tern::cli
