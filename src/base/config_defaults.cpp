#include "base/config.hpp"

namespace tern {

// Kept as TOML so the embedded defaults go through the same validation as a
// user's file and read exactly like config/tern.example.toml.
Config default_config() {
  static constexpr std::string_view text = R"(
[server]
data_dir = "./var"

[[listener]]
protocol = "smtp"
address  = "127.0.0.1:2525"

[[domain]]
name = "example.test"

[[user]]
address = "demo@example.test"
aliases = ["postmaster@example.test"]

[smtp]
trusted_networks = ["127.0.0.0/8", "::1/128"]
)";
  return load_config_text(text, "embedded defaults");
}

}  // namespace tern
