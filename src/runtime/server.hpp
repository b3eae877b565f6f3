// The daemon: binds the listeners, drops privileges, runs the I/O threads, the
// queue manager and the signal handling until asked to stop. Keeps Asio out of
// this header so main() stays cheap to compile.
#pragma once
#include <filesystem>
#include <memory>
#include <optional>

#include "base/config.hpp"

namespace tern::runtime {

class Server {
 public:
  // config_file: where SIGHUP reloads from; empty for the embedded defaults.
  Server(Config config, std::optional<std::filesystem::path> config_file);
  ~Server();
  // Runs until SIGTERM/SIGINT. Returns the process exit code.
  int run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tern::runtime
