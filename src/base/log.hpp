// Logging: one line per event, key=value, always with the session or queue id.
// The mail log (info) and the protocol trace (debug) share one sink: stderr,
// written by a background thread so an I/O thread never blocks on it.
#pragma once
#include <spdlog/spdlog.h>

namespace tern {

void init_logging(const std::string& level);
void flush_logging();

}  // namespace tern
