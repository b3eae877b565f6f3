// Final delivery of a queued message into local Maildirs: one copy per
// distinct mailbox, with Return-Path: and Delivered-To: prepended. Blocking
// (file copy, fsync): runs on the queue manager's worker threads.
#pragma once
#include <filesystem>
#include <string>

#include "base/error.hpp"
#include "services/spool.hpp"

namespace tern {

class LocalDelivery {
 public:
  LocalDelivery(std::filesystem::path mail_dir, std::string hostname, const Spool& spool);

  // Copies message `id` (envelope already parsed in entry) into mailbox's Maildir.
  Result<void> deliver(const QueueEntry& entry, const std::string& mailbox) const;

 private:
  std::filesystem::path mail_dir_;
  std::string hostname_;
  const Spool& spool_;
};

}  // namespace tern
