// Dropping root after the listeners are bound, and giving the data directory
// to the unprivileged user first.
#pragma once
#include <filesystem>
#include <string>

namespace tern::runtime {

// Returns an empty string on success, else what went wrong.
std::string hand_over_directory(const std::filesystem::path& dir, const std::string& user);
std::string drop_privileges(const std::string& user);

}  // namespace tern::runtime
