// Placeholder until the dkim check lands.
#include "cli/check_commands.hpp"

namespace tern::cli {
void add_check_dkim(CLI::App&, std::function<Config()>) {}
}  // namespace tern::cli
