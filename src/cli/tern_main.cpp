// tern: the administrator's command line. Every command takes --config FILE
// (the daemon's file) so it finds the same data directory.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "base/config.hpp"
#include "cli/account_commands.hpp"
#include "cli/check_commands.hpp"
#include "cli/dkim_commands.hpp"
#include "cli/queue_commands.hpp"
#include "cli/send_command.hpp"

int main(int argc, char** argv) {
  CLI::App app{"tern - manage a Tern mail server"};
  app.require_subcommand(1);
  std::string config_path;
  app.add_option("-c,--config", config_path, "configuration file (TOML); default: embedded defaults")
      ->configurable(false);

  auto load = [&]() -> tern::Config {
    return config_path.empty() ? tern::default_config() : tern::load_config_file(config_path);
  };
  tern::cli::add_queue_commands(app, load);
  tern::cli::add_account_commands(app, load);
  tern::cli::add_dkim_commands(app, load);
  tern::cli::add_check_commands(app, load);
  tern::cli::add_send_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const tern::ConfigError& e) {
    std::fprintf(stderr, "tern: configuration error: %s\n", e.what());
    return 2;
  }
  int code = tern::cli::exit_code();
  if (!code) code = tern::cli::account_exit_code();
  if (!code) code = tern::cli::dkim_exit_code();
  if (!code) code = tern::cli::check_exit_code();
  if (!code) code = tern::cli::send_exit_code();
  return code;
}
