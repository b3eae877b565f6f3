// Final delivery into local Maildirs, with Return-Path: and Delivered-To:
// prepended. Blocking file I/O: runs on the queue manager's worker threads.
//
// Two sources: a spooled queue file (copied with copy_file_range, fsynced per
// file), or a message held in memory after the commit log made it durable
// (written without fsync; the queue manager syncs the file system in batches
// before the log record is released). Deliveries from memory use a name
// derived from the queue id, so replaying the log after a crash finds a copy
// that already arrived and does not deliver it twice.
#pragma once
#include <filesystem>
#include <string>

#include "base/error.hpp"
#include "services/recipient_directory.hpp"
#include "services/spool.hpp"

namespace tern {

class LocalDelivery {
 public:
  LocalDelivery(std::filesystem::path mail_dir, std::string hostname, const Spool& spool);

  // Copies spooled message entry into mailbox's Maildir (fsynced).
  Result<void> deliver(const QueueEntry& entry, const std::string& mailbox) const;

  // Writes message (already in memory) into mailbox's Maildir as
  // new/<stable_name>, without fsync. With check_existing, a copy already in
  // new/ or cur/ counts as delivered.
  // Returns false when an existing copy made the write unnecessary.
  Result<bool> deliver_bytes(const QueueEnvelope& envelope, std::string_view message, const std::string& mailbox,
                             std::size_t index, bool check_existing) const;
  std::string stable_name(const QueueEnvelope& envelope, std::size_t index) const;

  const std::filesystem::path& mail_dir() const { return mail_dir_; }

 private:
  std::filesystem::path folder_of(const Mailbox& mb, const QueueEnvelope& envelope) const;
  std::filesystem::path mail_dir_;
  std::string hostname_;
  const Spool& spool_;
};

}  // namespace tern
