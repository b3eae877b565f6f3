// The durable queue on disk. One file per message in <queue>/active/<id>: a
// small text envelope, a blank line, then the message exactly as it will be
// delivered (our Received: header first). Per-recipient progress is an
// append-only log in <queue>/status/<id>. Files are written under
// <queue>/incoming/ and renamed into active/ only once fsynced, so active/
// holds nothing that was not acknowledged with 250.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "base/error.hpp"

namespace tern {

struct QueuedRecipient {
  std::string address;  // as given in RCPT TO
  std::string mailbox;  // canonical local mailbox address; empty for a remote recipient
};

struct QueueEnvelope {
  std::string id;
  std::int64_t arrival = 0;  // unix seconds
  std::string client_ip;
  std::string helo;
  std::string sender;  // empty for the null reverse path <>
  bool smtputf8 = false;
  bool body_8bit = false;
  bool junk = false;  // local copies go to the Junk folder (DMARC p=quarantine)
  std::vector<QueuedRecipient> recipients;
};

// failed: permanently undeliverable, the bounce not sent yet; bounced: the
// sender has been told (or there was nobody to tell). Both are final.
enum class RecipientStatus { pending, delivered, deferred, failed, bounced };
std::string_view to_string(RecipientStatus s);

struct RecipientState {
  RecipientStatus status = RecipientStatus::pending;
  unsigned attempts = 0;
  std::int64_t next_attempt = 0;  // unix seconds; 0 = as soon as possible
  std::string last_error;
};

struct QueueEntry {
  QueueEnvelope envelope;
  std::vector<RecipientState> recipients;  // same order as envelope.recipients
  std::uint64_t message_offset = 0;        // where the message starts in the file
  std::uint64_t message_size = 0;
  bool done() const;                       // every recipient delivered or bounced
};

class Spool {
 public:
  explicit Spool(std::filesystem::path queue_dir);

  // Creates incoming/, active/, status/ (mode 0700).
  Result<void> prepare() const;
  std::filesystem::path incoming_path(const std::string& id) const;
  std::filesystem::path active_path(const std::string& id) const;
  std::filesystem::path status_path(const std::string& id) const;

  // Ids of committed messages, oldest first.
  std::vector<std::string> list() const;
  Result<QueueEntry> read(const std::string& id) const;
  // Appends one progress record for recipient index i.
  Result<void> record(const std::string& id, std::size_t i, const RecipientState& state) const;
  // Removes a finished (or deleted) message and its status log.
  Result<void> remove(const std::string& id) const;
  // Unacknowledged leftovers of a crash in incoming/: never delivered, so removed.
  std::size_t clean_incoming() const;

 private:
  std::filesystem::path dir_;
};

std::string serialize_envelope(const QueueEnvelope& env);
// Parses the envelope part (up to, not including, the blank line).
Result<QueueEnvelope> parse_envelope(std::string_view text);

}  // namespace tern
