// What an SMTP server session needs from the rest of the server, as an
// interface: recipient policy and a place to stream the message. The session
// calls these synchronously; none of them may block on the network or on
// fsync (durability happens in commit(), which the runtime runs off the I/O
// thread after the session asks for it).
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"
#include "formats/mail_address.hpp"
#include "protocol/smtp/reply.hpp"

namespace tern::smtp {

struct Envelope {
  std::string client_ip;
  std::string helo;
  bool esmtp = false;
  MailAddress mail_from;
  bool smtputf8 = false;  // RFC 6531 SMTPUTF8 parameter
  bool body_8bit = false; // RFC 6152 BODY=8BITMIME
  std::optional<std::uint64_t> declared_size;
  std::vector<MailAddress> recipients;
  std::string auth_user;  // RFC 4954: who authenticated, empty if nobody
};

enum class RecipientVerdict {
  accept,          // a local mailbox or alias (or, later, allowed relay)
  unknown_user,    // local domain, no such user: 550 5.1.1
  relay_denied,    // not ours, and the client may not relay: 554 5.7.1
  try_later,       // lookup failed temporarily: 451 4.3.0
  rate_limited,    // the client or user sent too many recipients lately: 451 4.7.1
  greylisted,      // first attempt of an unknown triplet: 451 4.7.1, retry later
};

class SessionServices {
 public:
  virtual ~SessionServices() = default;
  virtual RecipientVerdict check_recipient(const Envelope& envelope, const MailAddress& rcpt) = 0;
  // May the authenticated user use this envelope sender (RFC 6409 §8)?
  virtual bool sender_allowed(const std::string& user, const MailAddress& sender) = 0;
  // Policy on a new transaction (rate limits, a blocklisted client): a reply
  // refuses the MAIL command with it; nothing lets it through.
  virtual std::optional<Reply> check_sender(const Envelope&) { return std::nullopt; }
  // Starts a message for the envelope (all recipients known). Returns the queue
  // id. trace_header is the Received: header the session built for it.
  virtual Result<std::string> open_message(const Envelope& envelope) = 0;
  virtual void write_message(std::string_view bytes) = 0;  // errors are kept for commit()
  virtual void discard_message() = 0;                      // nothing of it may remain
};

}  // namespace tern::smtp
