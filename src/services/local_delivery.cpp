#include "services/local_delivery.hpp"

#include <cerrno>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "formats/received_header.hpp"
#include "services/maildir.hpp"
#include "services/recipient_directory.hpp"

namespace tern {

LocalDelivery::LocalDelivery(std::filesystem::path mail_dir, std::string hostname, const Spool& spool)
    : mail_dir_(std::move(mail_dir)), hostname_(std::move(hostname)), spool_(spool) {}

// The Maildir++ folder a copy goes to: the inbox, or ".Junk" (the folder name
// Dovecot and most IMAP clients use for spam) for quarantined mail.
std::filesystem::path LocalDelivery::folder_of(const Mailbox& mb, const QueueEnvelope& envelope) const {
  auto maildir = mb.maildir(mail_dir_);
  return envelope.junk ? maildir / ".Junk" : maildir;
}

Result<void> LocalDelivery::deliver(const QueueEntry& entry, const std::string& mailbox) const {
  auto at = mailbox.rfind('@');
  Mailbox mb{mailbox, mailbox.substr(at + 1), mailbox.substr(0, at)};
  auto file = begin_maildir_message(folder_of(mb, entry.envelope), hostname_);
  if (!file) return std::unexpected(file.error());
  file->write(build_delivery_headers(entry.envelope.sender, mailbox));
  if (auto r = file->flush(); !r) return r;

  const auto src_path = spool_.active_path(entry.envelope.id);
  UniqueFd src(::open(src_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!src) return std::unexpected(Error::from_errno("open " + src_path.string(), errno));
  // Kernel-side copy where the file system allows it; plain read/write otherwise.
  loff_t offset = static_cast<loff_t>(entry.message_offset);
  std::uint64_t left = entry.message_size;
  while (left > 0) {
    ssize_t n = ::copy_file_range(src.get(), &offset, file->fd(), nullptr, left, 0);
    if (n > 0) {
      left -= static_cast<std::uint64_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) break;
    if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
      return std::unexpected(Error::from_errno("copy into " + file->final_path().string(), errno));
    char buf[65536];
    while (left > 0) {
      ssize_t r = ::pread(src.get(), buf, std::min<std::uint64_t>(sizeof buf, left), offset);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return std::unexpected(Error::from_errno("read " + src_path.string(), r < 0 ? errno : EIO));
      file->write(std::string_view(buf, static_cast<std::size_t>(r)));
      offset += r;
      left -= static_cast<std::uint64_t>(r);
    }
  }
  if (left != 0) return std::unexpected(Error::temporary("Local error", "queue file shorter than recorded"));
  return file->commit();
}

std::string LocalDelivery::stable_name(const QueueEnvelope& envelope, std::size_t index) const {
  std::string host;
  for (char c : hostname_) host += (c == '/' ? "\\057" : c == ':' ? "\\072" : std::string(1, c));
  return fmt::format("{}.T{}_{}.{}", envelope.arrival, envelope.id, index, host);
}

namespace {
bool already_delivered(const std::filesystem::path& maildir, const std::string& name) {
  struct stat st{};
  if (::stat((maildir / "new" / name).c_str(), &st) == 0) return true;
  // A client that has seen it moved it to cur/ as "<name>:2,<flags>".
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(maildir / "cur", ec)) {
    auto f = e.path().filename().string();
    if (f.size() > name.size() && f.compare(0, name.size(), name) == 0 && f[name.size()] == ':') return true;
  }
  return false;
}
}  // namespace

Result<bool> LocalDelivery::deliver_bytes(const QueueEnvelope& envelope, std::string_view message,
                                          const std::string& mailbox, std::size_t index, bool check_existing) const {
  auto at = mailbox.rfind('@');
  Mailbox mb{mailbox, mailbox.substr(at + 1), mailbox.substr(0, at)};
  auto maildir = folder_of(mb, envelope);
  if (auto r = ensure_maildir(maildir); !r) return std::unexpected(r.error());
  std::string name = stable_name(envelope, index);
  if (check_existing && already_delivered(maildir, name)) return false;
  auto tmp = maildir / "tmp" / name;
  ::unlink(tmp.c_str());  // a leftover of a crash during this very delivery
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) return std::unexpected(Error::from_errno("create " + tmp.string(), errno));
  std::string headers = build_delivery_headers(envelope.sender, mailbox);
  iovec iov[2] = {{headers.data(), headers.size()}, {const_cast<char*>(message.data()), message.size()}};
  std::size_t total = headers.size() + message.size(), done = 0;
  while (done < total) {
    ssize_t n = ::writev(fd.get(), iov, 2);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::unlink(tmp.c_str());
      return std::unexpected(Error::from_errno("write " + tmp.string(), err));
    }
    done += static_cast<std::size_t>(n);
    // Advance the iovecs past what was written.
    std::size_t skip = static_cast<std::size_t>(n);
    for (auto& v : iov) {
      std::size_t s = std::min(skip, v.iov_len);
      v.iov_base = static_cast<char*>(v.iov_base) + s;
      v.iov_len -= s;
      skip -= s;
    }
  }
  fd.reset();
  if (::rename(tmp.c_str(), (maildir / "new" / name).c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return std::unexpected(Error::from_errno("rename into " + (maildir / "new").string(), err));
  }
  return true;
}

}  // namespace tern
