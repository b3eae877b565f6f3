#include "services/maildir.hpp"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

namespace tern {

std::string maildir_unique_name(std::string_view hostname) {
  static std::atomic<unsigned long> counter{0};
  auto now = std::chrono::system_clock::now().time_since_epoch();
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(now).count();
  std::string host;
  // The Maildir spec reserves '/' and ':' in names.
  for (char c : hostname) host += (c == '/' ? "\\057" : c == ':' ? "\\072" : std::string(1, c));
  return fmt::format("{}.M{}P{}Q{}.{}", us / 1000000, us % 1000000, getpid(),
                     counter.fetch_add(1, std::memory_order_relaxed), host);
}

Result<void> ensure_maildir(const std::filesystem::path& maildir) {
  struct stat st{};
  if (::stat((maildir / "new").c_str(), &st) == 0 && ::stat((maildir / "tmp").c_str(), &st) == 0) return {};
  bool existed = ::stat(maildir.c_str(), &st) == 0;
  if (auto r = make_private_dirs(maildir); !r) return r;
  for (const char* sub : {"tmp", "new", "cur"}) {
    if (::mkdir((maildir / sub).c_str(), 0700) != 0 && errno != EEXIST)
      return std::unexpected(Error::from_errno("mkdir " + (maildir / sub).string(), errno));
  }
  // Make the new directories themselves durable, up to the mail tree.
  if (auto r = fsync_directory(maildir); !r) return r;
  if (!existed) {
    for (auto p = maildir.parent_path(); !p.empty() && p != p.parent_path(); p = p.parent_path()) {
      if (auto r = fsync_directory(p); !r) return r;
      if (p.filename() == "mail") break;
    }
  }
  return {};
}

Result<StagedFile> begin_maildir_message(const std::filesystem::path& maildir, std::string_view hostname) {
  if (auto r = ensure_maildir(maildir); !r) return std::unexpected(r.error());
  std::string name = maildir_unique_name(hostname);
  return StagedFile::create(maildir / "tmp" / name, maildir / "new" / name);
}

}  // namespace tern
