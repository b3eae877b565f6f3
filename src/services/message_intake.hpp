// The SMTP session's services for incoming mail: recipient policy, and where
// the message goes while it streams in.
//
// A message is held in memory while it is small (up to memory_limit octets,
// so a connection's memory stays bounded) and committed through the group
// commit log: many sessions share one fdatasync, and delivery happens after
// the 250 from memory. A message that grows past the limit spills to a file:
// straight into the Maildir's tmp/ when it has exactly one local mailbox
// (delivered at commit, written once), else into the spool's incoming/.
// Either file is fsynced and renamed before the 250.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "base/config.hpp"
#include "protocol/smtp/session_services.hpp"
#include "services/abuse/abuse_controls.hpp"
#include "services/commit_log.hpp"
#include "services/recipient_directory.hpp"
#include "services/spool.hpp"
#include "services/staged_file.hpp"

namespace tern {

// A durable message on its way to delivery from memory.
struct MemoryMessage {
  QueueEnvelope envelope;
  CommitLog::Payload payload;      // envelope text + message
  std::size_t message_offset = 0;  // where the message starts in payload
  std::uint64_t log_segment = 0;
  std::string_view message() const { return std::string_view(*payload).substr(message_offset); }
};

struct IntakeContext {
  std::shared_ptr<const Config> config;
  std::shared_ptr<const RecipientDirectory> directory;
  const Spool* spool = nullptr;
  CommitLog* log = nullptr;
  std::function<void(const std::string& id)> on_spooled;     // thread-safe
  std::function<void(MemoryMessage message)> on_logged;      // thread-safe
  std::size_t memory_limit = 256 * 1024;
  // Rate limits, blocklist verdict and greylisting for this connection;
  // null: none (tests, tools).
  abuse::ClientPolicy* policy = nullptr;
};

class MessageIntake final : public smtp::SessionServices {
 public:
  explicit MessageIntake(IntakeContext context);

  smtp::RecipientVerdict check_recipient(const smtp::Envelope& envelope, const MailAddress& rcpt) override;
  bool sender_allowed(const std::string& user, const MailAddress& sender) override;
  std::optional<smtp::Reply> check_sender(const smtp::Envelope& envelope) override;
  // Checks a password against the account database (blocking: argon2id).
  bool authenticate(const std::string& user, const std::string& password);
  Result<std::string> open_message(const smtp::Envelope& envelope) override;
  void write_message(std::string_view bytes) override;
  void discard_message() override;

  // The message spilled to a file: commit() must run off the I/O thread.
  bool commit_blocks() const { return file_.has_value(); }
  // Blocking commit of a spilled message (fsync, rename, fsync dir).
  Result<void> commit();
  // Commit of an in-memory message through the log; done runs on the log's
  // committer thread.
  void commit_async(std::move_only_function<void(Result<void>)> done);

  bool delivered_directly() const { return direct_; }

  // The message as received so far, while it is held in memory (not spilled
  // to a file); the inbound checks read it at the end of DATA.
  std::optional<std::string_view> message_in_memory() const;
  // After the inbound checks, before commit: puts `fields` at the top, drops
  // Authentication-Results fields claiming `our_authserv_id` (RFC 8601 §5),
  // and with `junk` files the local copies in the Junk folder.
  void amend_message(std::string_view fields, std::string_view our_authserv_id, bool junk);
  const std::vector<std::string>& mailboxes() const { return mailboxes_; }

 private:
  void spill();
  smtp::RecipientVerdict recipient_verdict(const smtp::Envelope& envelope, const MailAddress& rcpt) const;

  IntakeContext ctx_;
  QueueEnvelope envelope_;
  std::string buffer_;  // envelope text + message while in memory
  std::size_t envelope_len_ = 0;
  bool open_ = false;
  std::optional<StagedFile> file_;
  bool direct_ = false;
  std::vector<std::string> mailboxes_;
};

}  // namespace tern
