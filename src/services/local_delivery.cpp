#include "services/local_delivery.hpp"

#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

#include "formats/received_header.hpp"
#include "services/maildir.hpp"
#include "services/recipient_directory.hpp"

namespace tern {

LocalDelivery::LocalDelivery(std::filesystem::path mail_dir, std::string hostname, const Spool& spool)
    : mail_dir_(std::move(mail_dir)), hostname_(std::move(hostname)), spool_(spool) {}

Result<void> LocalDelivery::deliver(const QueueEntry& entry, const std::string& mailbox) const {
  auto at = mailbox.rfind('@');
  Mailbox mb{mailbox, mailbox.substr(at + 1), mailbox.substr(0, at)};
  auto file = begin_maildir_message(mb.maildir(mail_dir_), hostname_);
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

}  // namespace tern
