// A file written under a temporary name and made visible under its final name
// only once it is durable: write (buffered) -> commit (flush, fsync, rename,
// fsync the directory). Nothing half-written is ever visible under the final
// name. commit() blocks on fsync: run it off the I/O thread.
#pragma once
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.hpp"
#include "services/durable_file.hpp"

namespace tern {

class StagedFile {
 public:
  StagedFile() = default;
  StagedFile(StagedFile&&) = default;
  StagedFile& operator=(StagedFile&&) = default;
  ~StagedFile();

  // Creates temp_path exclusively (mode 0600).
  static Result<StagedFile> create(std::filesystem::path temp_path, std::filesystem::path final_path);

  void write(std::string_view bytes);  // buffered; the first error is kept
  Result<void> commit();
  void discard();  // unlinks the temporary file
  bool open() const { return static_cast<bool>(fd_); }
  int fd() const { return fd_.get(); }
  Result<void> flush();
  const std::filesystem::path& final_path() const { return final_; }
  std::uint64_t bytes_written() const { return written_; }

 private:
  UniqueFd fd_;
  std::filesystem::path temp_, final_;
  std::string buffer_;
  std::uint64_t written_ = 0;
  std::optional<Error> error_;
};

}  // namespace tern
