// Queue ids: short, unique per host, sortable by arrival time, safe as file names.
#pragma once
#include <string>

namespace tern {

// 16 characters of [0-9A-Z]: microseconds since the epoch, then a per-process
// counter mixed with the pid so two daemons on one spool never collide.
std::string make_queue_id();
bool is_valid_queue_id(std::string_view id);

}  // namespace tern
