#include "cli/daemon_signal.hpp"

#include <csignal>
#include <cstdio>

namespace tern::cli {

bool signal_daemon(const Config& config, int signal) {
  std::FILE* f = std::fopen((config.data_dir / "ternd.pid").c_str(), "r");
  if (!f) return false;
  long pid = 0;
  bool ok = std::fscanf(f, "%ld", &pid) == 1 && pid > 1;
  std::fclose(f);
  return ok && ::kill(static_cast<pid_t>(pid), signal) == 0;
}

}  // namespace tern::cli
