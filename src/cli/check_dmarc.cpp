// Placeholder until the dmarc check lands.
#include "cli/check_commands.hpp"

namespace tern::cli {
void add_check_dmarc(CLI::App&, std::function<Config()>) {}
}  // namespace tern::cli
