#include "services/message_intake.hpp"

#include <algorithm>
#include <chrono>

#include "base/queue_id.hpp"
#include "formats/authentication_results.hpp"
#include "formats/received_header.hpp"
#include "services/account_store.hpp"
#include "services/maildir.hpp"

namespace tern {

MessageIntake::MessageIntake(IntakeContext context) : ctx_(std::move(context)) {}

smtp::RecipientVerdict MessageIntake::check_recipient(const smtp::Envelope& env, const MailAddress& rcpt) {
  auto verdict = recipient_verdict(env, rcpt);
  if (verdict != smtp::RecipientVerdict::accept || !ctx_.policy) return verdict;
  switch (ctx_.policy->on_recipient(env.auth_user, env.mail_from.to_string(), rcpt.to_string())) {
    case abuse::ClientPolicy::RcptVerdict::ok: return verdict;
    case abuse::ClientPolicy::RcptVerdict::rate_limited: return smtp::RecipientVerdict::rate_limited;
    case abuse::ClientPolicy::RcptVerdict::greylisted: return smtp::RecipientVerdict::greylisted;
  }
  return verdict;
}

std::optional<smtp::Reply> MessageIntake::check_sender(const smtp::Envelope& env) {
  return ctx_.policy ? ctx_.policy->on_mail(env.auth_user) : std::nullopt;
}

smtp::RecipientVerdict MessageIntake::recipient_verdict(const smtp::Envelope& env, const MailAddress& rcpt) const {
  if (ctx_.directory->resolve(rcpt)) return smtp::RecipientVerdict::accept;
  if (rcpt.domain.empty() || ctx_.directory->is_local_domain(rcpt.domain))
    return smtp::RecipientVerdict::unknown_user;
  // RFC 6409: an authenticated submitter may send anywhere.
  if (!env.auth_user.empty()) return smtp::RecipientVerdict::accept;
  // Relaying only for trusted networks (like Postfix's mynetworks); never an
  // open relay (RFC 5321 §3.6.2, §7.1).
  if (auto ip = IpAddress::parse(env.client_ip)) {
    for (const auto& net : ctx_.config->smtp.trusted_networks)
      if (net.contains(*ip)) return smtp::RecipientVerdict::accept;
  }
  return smtp::RecipientVerdict::relay_denied;
}

bool MessageIntake::sender_allowed(const std::string& user, const MailAddress& sender) {
  return ctx_.directory->owns(user, sender);
}

bool MessageIntake::authenticate(const std::string& user, const std::string& password) {
  auto store = AccountStore::open(ctx_.config->data_dir / "accounts.db");
  if (!store) return false;
  auto ok = store->verify(user, password);
  return ok && *ok;
}

Result<std::string> MessageIntake::open_message(const smtp::Envelope& env) {
  discard_message();
  QueueEnvelope qe;
  qe.id = make_queue_id();
  qe.arrival = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
  qe.client_ip = env.client_ip;
  qe.helo = env.helo;
  qe.sender = env.mail_from.to_string();
  qe.smtputf8 = env.smtputf8;
  qe.body_8bit = env.body_8bit;
  mailboxes_.clear();
  for (const auto& r : env.recipients) {
    auto mb = ctx_.directory->resolve(r);
    std::string mailbox = mb ? mb->address : std::string{};
    qe.recipients.push_back({r.to_string(), mailbox});
    if (mb && std::find(mailboxes_.begin(), mailboxes_.end(), mailbox) == mailboxes_.end())
      mailboxes_.push_back(mailbox);
  }
  envelope_ = std::move(qe);
  buffer_ = serialize_envelope(envelope_);
  envelope_len_ = buffer_.size();
  direct_ = false;
  open_ = true;
  return envelope_.id;
}

void MessageIntake::spill() {
  const Config& cfg = *ctx_.config;
  bool all_local = std::all_of(envelope_.recipients.begin(), envelope_.recipients.end(),
                               [](const auto& r) { return !r.mailbox.empty(); });
  std::string_view message = std::string_view(buffer_).substr(envelope_len_);
  if (all_local && mailboxes_.size() == 1) {
    const std::string& address = mailboxes_.front();
    auto at = address.rfind('@');
    Mailbox mb{address, address.substr(at + 1), address.substr(0, at)};
    auto f = begin_maildir_message(mb.maildir(cfg.mail_dir()), cfg.hostname);
    if (f) {
      file_ = std::move(*f);
      direct_ = true;
      file_->write(build_delivery_headers(envelope_.sender, address));
      file_->write(message);
    }
  } else {
    auto f = StagedFile::create(ctx_.spool->incoming_path(envelope_.id), ctx_.spool->active_path(envelope_.id));
    if (f) {
      file_ = std::move(*f);
      file_->write(buffer_);
    }
  }
  // If the file could not be created, commit() reports it: keep a marker file
  // so the message is not silently taken from memory.
  if (!file_) file_.emplace();
  std::string().swap(buffer_);
}

void MessageIntake::write_message(std::string_view bytes) {
  if (!open_) return;
  if (file_) {
    file_->write(bytes);
    return;
  }
  buffer_.append(bytes);
  if (buffer_.size() > ctx_.memory_limit) spill();
}

std::optional<std::string_view> MessageIntake::message_in_memory() const {
  if (!open_ || file_) return std::nullopt;
  return std::string_view(buffer_).substr(envelope_len_);
}

void MessageIntake::amend_message(std::string_view fields, std::string_view our_authserv_id, bool junk) {
  if (!open_ || file_) return;
  std::string message = buffer_.substr(envelope_len_);
  if (!our_authserv_id.empty()) message = remove_authentication_results(message, our_authserv_id);
  envelope_.junk = junk;
  buffer_ = serialize_envelope(envelope_);
  envelope_len_ = buffer_.size();
  buffer_ += fields;
  buffer_ += message;
}

void MessageIntake::discard_message() {
  if (file_) file_->discard();
  file_.reset();
  std::string().swap(buffer_);
  open_ = false;
}

Result<void> MessageIntake::commit() {
  if (!file_) return std::unexpected(Error::temporary("Local error in processing", "commit without a file"));
  auto r = file_->commit();
  file_.reset();
  open_ = false;
  if (r && !direct_ && ctx_.on_spooled) ctx_.on_spooled(envelope_.id);
  return r;
}

void MessageIntake::commit_async(std::move_only_function<void(Result<void>)> done) {
  auto payload = std::make_shared<const std::string>(std::move(buffer_));
  buffer_.clear();
  open_ = false;
  MemoryMessage m{envelope_, payload, envelope_len_, 0};
  ctx_.log->append(payload, [m = std::move(m), done = std::move(done), hand_off = ctx_.on_logged](
                                Result<std::uint64_t> segment) mutable {
    if (!segment) {
      done(std::unexpected(segment.error()));
      return;
    }
    m.log_segment = *segment;
    hand_off(std::move(m));
    done({});
  });
}

}  // namespace tern
