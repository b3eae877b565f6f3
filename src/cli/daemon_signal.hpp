// Finding the running ternd (through <data_dir>/ternd.pid) to tell it that
// the spool (SIGUSR1) or the accounts (SIGHUP) changed.
#pragma once
#include "base/config.hpp"

namespace tern::cli {

// False when no daemon is running (no pid file, or the signal failed).
bool signal_daemon(const Config& config, int signal);

}  // namespace tern::cli
