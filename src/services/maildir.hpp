// Maildir (https://cr.yp.to/proto/maildir.html) as a delivery target: unique
// names, tmp/ -> new/ on success, directories created on first delivery.
// Blocking file-system work: call from a worker thread (file creation is also
// done on I/O threads for the direct path; see ARCHITECTURE.md).
#pragma once
#include <filesystem>
#include <string>

#include "base/error.hpp"
#include "services/staged_file.hpp"

namespace tern {

// Ensures <maildir>/{tmp,new,cur} exist (mode 0700, parents fsynced when created).
Result<void> ensure_maildir(const std::filesystem::path& maildir);
// A new message file in tmp/ that commit() moves into new/.
Result<StagedFile> begin_maildir_message(const std::filesystem::path& maildir, std::string_view hostname);
// "<sec>.M<usec>P<pid>Q<n>.<host>": unique per host without coordination.
std::string maildir_unique_name(std::string_view hostname);

}  // namespace tern
