// A real Config for services tests: data in a temporary directory, domain
// example.test with users demo (postmaster is its alias), alice and bob.
#pragma once
#include <memory>
#include <string>

#include "base/config.hpp"
#include "tests/unit/support/temp_dir.hpp"

namespace tern::testing {

inline std::shared_ptr<const Config> make_test_config(const TempDir& dir) {
  std::string text = R"([server]
hostname = "mx.example.test"
data_dir = ")" + dir.path().string() + R"("
[[listener]]
protocol = "smtp"
address = "127.0.0.1:2525"
[[domain]]
name = "example.test"
[[user]]
address = "demo@example.test"
aliases = ["postmaster@example.test", "info@example.test"]
[[user]]
address = "alice@example.test"
[[user]]
address = "bob@example.test"
)";
  return std::make_shared<const Config>(load_config_text(text, "test.toml"));
}

}  // namespace tern::testing
