// The SMTP session's services for incoming mail: recipient policy, and where
// the message goes while it streams in.
//
// Two paths, chosen at DATA: a message for exactly one local mailbox is
// written straight into that Maildir's tmp/ and renamed into new/ once
// fsynced — delivered before the 250, written once. Anything else is spooled
// into the durable queue and delivered by the queue manager.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "base/config.hpp"
#include "protocol/smtp/session_services.hpp"
#include "services/recipient_directory.hpp"
#include "services/spool.hpp"
#include "services/staged_file.hpp"

namespace tern {

struct IntakeContext {
  std::shared_ptr<const Config> config;
  std::shared_ptr<const RecipientDirectory> directory;
  const Spool* spool = nullptr;
  std::function<void(const std::string& id)> on_queued;  // thread-safe
};

class MessageIntake final : public smtp::SessionServices {
 public:
  explicit MessageIntake(IntakeContext context);

  smtp::RecipientVerdict check_recipient(const smtp::Envelope& envelope, const MailAddress& rcpt) override;
  Result<std::string> open_message(const smtp::Envelope& envelope) override;
  void write_message(std::string_view bytes) override;
  void discard_message() override;

  // Makes the open message durable (blocking: fsync). Run off the I/O thread.
  Result<void> commit();
  // True when the open message went straight into a mailbox.
  bool delivered_directly() const { return direct_; }
  const std::vector<std::string>& mailboxes() const { return mailboxes_; }

 private:
  IntakeContext ctx_;
  std::optional<StagedFile> file_;
  std::string id_;
  bool direct_ = false;
  std::vector<std::string> mailboxes_;
};

}  // namespace tern
