#include "services/message_intake.hpp"

#include <algorithm>
#include <chrono>

#include "base/queue_id.hpp"
#include "formats/received_header.hpp"
#include "services/maildir.hpp"

namespace tern {

MessageIntake::MessageIntake(IntakeContext context) : ctx_(std::move(context)) {}

smtp::RecipientVerdict MessageIntake::check_recipient(const smtp::Envelope&, const MailAddress& rcpt) {
  if (ctx_.directory->resolve(rcpt)) return smtp::RecipientVerdict::accept;
  if (rcpt.domain.empty() || ctx_.directory->is_local_domain(rcpt.domain))
    return smtp::RecipientVerdict::unknown_user;
  // No relaying: remote delivery is not part of this build (and never for
  // strangers). RFC 5321 §3.6.2 / §7.1.
  return smtp::RecipientVerdict::relay_denied;
}

Result<std::string> MessageIntake::open_message(const smtp::Envelope& env) {
  discard_message();
  id_ = make_queue_id();
  std::vector<QueuedRecipient> rcpts;
  mailboxes_.clear();
  for (const auto& r : env.recipients) {
    auto mb = ctx_.directory->resolve(r);
    std::string mailbox = mb ? mb->address : std::string{};
    rcpts.push_back({r.to_string(), mailbox});
    if (mb && std::find(mailboxes_.begin(), mailboxes_.end(), mailbox) == mailboxes_.end())
      mailboxes_.push_back(mailbox);
  }
  bool all_local = std::all_of(rcpts.begin(), rcpts.end(), [](const auto& r) { return !r.mailbox.empty(); });
  const Config& cfg = *ctx_.config;

  if (all_local && mailboxes_.size() == 1) {
    Mailbox mb = *ctx_.directory->resolve(env.recipients.front());
    auto f = begin_maildir_message(mb.maildir(cfg.mail_dir()), cfg.hostname);
    if (!f) return std::unexpected(f.error());
    file_ = std::move(*f);
    direct_ = true;
    file_->write(build_delivery_headers(env.mail_from.to_string(), mb.address));
    return id_;
  }

  QueueEnvelope qe;
  qe.id = id_;
  qe.arrival = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
  qe.client_ip = env.client_ip;
  qe.helo = env.helo;
  qe.sender = env.mail_from.to_string();
  qe.smtputf8 = env.smtputf8;
  qe.body_8bit = env.body_8bit;
  qe.recipients = std::move(rcpts);
  auto f = StagedFile::create(ctx_.spool->incoming_path(id_), ctx_.spool->active_path(id_));
  if (!f) return std::unexpected(f.error());
  file_ = std::move(*f);
  direct_ = false;
  file_->write(serialize_envelope(qe));
  return id_;
}

void MessageIntake::write_message(std::string_view bytes) {
  if (file_) file_->write(bytes);
}

void MessageIntake::discard_message() {
  if (file_) file_->discard();
  file_.reset();
}

Result<void> MessageIntake::commit() {
  if (!file_) return std::unexpected(Error::temporary("Local error in processing", "commit without a message"));
  auto r = file_->commit();
  file_.reset();
  if (r && !direct_ && ctx_.on_queued) ctx_.on_queued(id_);
  return r;
}

}  // namespace tern
