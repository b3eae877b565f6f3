#include "services/staged_file.hpp"

#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <unistd.h>

namespace tern {
namespace {
constexpr std::size_t buffer_limit = 64 * 1024;
}

StagedFile::~StagedFile() { discard(); }

Result<StagedFile> StagedFile::create(std::filesystem::path temp_path, std::filesystem::path final_path) {
  StagedFile f;
  f.fd_ = UniqueFd(::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!f.fd_) return std::unexpected(Error::from_errno("create " + temp_path.string(), errno));
  f.temp_ = std::move(temp_path);
  f.final_ = std::move(final_path);
  f.buffer_.reserve(buffer_limit);
  return f;
}

void StagedFile::write(std::string_view bytes) {
  if (error_ || !fd_) return;
  written_ += bytes.size();
  if (buffer_.size() + bytes.size() > buffer_limit) {
    if (auto r = flush(); !r) return;
    if (bytes.size() >= buffer_limit) {
      if (auto r = write_all(fd_.get(), bytes, "write " + temp_.string()); !r) error_ = r.error();
      return;
    }
  }
  buffer_.append(bytes);
}

Result<void> StagedFile::flush() {
  if (error_) return std::unexpected(*error_);
  if (!buffer_.empty()) {
    auto r = write_all(fd_.get(), buffer_, "write " + temp_.string());
    buffer_.clear();
    if (!r) {
      error_ = r.error();
      return r;
    }
  }
  return {};
}

Result<void> StagedFile::commit() {
  if (!fd_) return std::unexpected(Error::temporary("Local error in processing", "commit of a closed file"));
  if (auto r = flush(); !r) return r;
  if (auto r = fsync_fd(fd_.get(), "fsync " + temp_.string()); !r) return r;
  fd_.reset();
  if (::rename(temp_.c_str(), final_.c_str()) != 0) {
    int err = errno;
    ::unlink(temp_.c_str());
    return std::unexpected(Error::from_errno("rename " + final_.string(), err));
  }
  temp_.clear();
  // The rename is durable only once the directory entry is on disk.
  return fsync_directory(final_.parent_path());
}

void StagedFile::discard() {
  fd_.reset();
  if (!temp_.empty()) ::unlink(temp_.c_str());
  temp_.clear();
  buffer_.clear();
}

}  // namespace tern
