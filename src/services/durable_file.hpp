// The few file-system operations that make mail durable: write everything,
// fsync a file, fsync a directory (so a rename or create survives a crash),
// create directories with tight permissions. Blocking: call them only from a
// worker thread, never from an I/O thread.
#pragma once
#include <filesystem>
#include <string_view>

#include "base/error.hpp"

namespace tern {

Result<void> write_all(int fd, std::string_view bytes, std::string_view what);
Result<void> fsync_fd(int fd, std::string_view what);
Result<void> fsync_directory(const std::filesystem::path& dir);
// mkdir -p with mode 0700 for every directory it creates.
Result<void> make_private_dirs(const std::filesystem::path& dir);

// A file descriptor that closes itself.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  ~UniqueFd();
  int get() const { return fd_; }
  int release() { int f = fd_; fd_ = -1; return f; }
  explicit operator bool() const { return fd_ >= 0; }
  void reset();

 private:
  int fd_ = -1;
};

}  // namespace tern
