// ternd: the Tern mail server daemon. Runs in the foreground and logs to
// stderr; see README.md for operation and config/tern.example.toml for keys.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <optional>

#include "base/config.hpp"
#include "base/log.hpp"
#include "runtime/server.hpp"

int main(int argc, char** argv) {
  CLI::App app{"ternd - the Tern mail server (foreground, logs to stderr)"};
  std::string config_path;
  bool check_only = false;
  app.add_option("-c,--config", config_path, "configuration file (TOML); default: embedded defaults");
  app.add_flag("--check-config", check_only, "validate the configuration and exit");
  CLI11_PARSE(app, argc, argv);

  tern::Config config;
  std::optional<std::filesystem::path> file;
  try {
    if (config_path.empty()) {
      config = tern::default_config();
    } else {
      file = config_path;
      config = tern::load_config_file(config_path);
    }
  } catch (const tern::ConfigError& e) {
    std::fprintf(stderr, "ternd: configuration error: %s\n", e.what());
    return 2;
  }
  if (check_only) {
    std::printf("%s: ok\n", config.source.c_str());
    return 0;
  }
  tern::init_logging(config.log_level);
  try {
    tern::runtime::Server server(std::move(config), file);
    return server.run();
  } catch (const tern::ConfigError& e) {
    std::fprintf(stderr, "ternd: configuration error: %s\n", e.what());
    return 2;
  }
}
