// Placeholder until the spf check lands.
#include "cli/check_commands.hpp"

namespace tern::cli {
void add_check_spf(CLI::App&, std::function<Config()>) {}
}  // namespace tern::cli
