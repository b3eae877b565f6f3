#include "protocol/smtp/client_session.hpp"

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <fmt/format.h>

#include "base/base64.hpp"
#include "base/strings.hpp"

namespace tern::smtp {
namespace {

using std::chrono::seconds;

// A broken calling contract is a bug in the driver: abort loudly.
void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "tern: ClientSession misuse: %s\n", what);
  std::abort();
}

bool positive_completion(const Reply& r) { return r.code >= 200 && r.code < 300; }

// For a reply that is not the one hoped for: 5xx is permanent (RFC 5321
// §4.2.1), 4xx temporary, and a positive reply where none belongs is a
// protocol problem, which is worth another try.
Outcome failure_outcome(const Reply& r) { return r.code >= 500 ? Outcome::permanent : Outcome::temporary; }

bool has_control(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return true;
  return false;
}

bool non_ascii(std::string_view s) {
  for (unsigned char c : s)
    if (c >= 0x80) return true;
  return false;
}

std::string to_upper(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
  return out;
}

// RFC 5321 §4.1.1.1: the EHLO reply's first line names the server, each
// further line is "keyword [params]" (keywords case-insensitive).
ServerCapabilities parse_ehlo(const Reply& reply) {
  ServerCapabilities caps;
  caps.esmtp = true;
  for (std::size_t i = 1; i < reply.lines.size(); ++i) {
    std::string_view line = trim(reply.lines[i]);
    std::size_t sp = line.find(' ');
    std::string_view keyword = line.substr(0, sp);
    std::string_view params = sp == std::string_view::npos ? std::string_view{} : trim(line.substr(sp + 1));
    // "AUTH=LOGIN PLAIN" is the pre-RFC 2554 form some servers still send
    // beside the standard one (see the seed dialogue); take both.
    if (istarts_with(keyword, "AUTH=")) {
      params = line.substr(5);
      keyword = "AUTH";
    }
    if (iequals(keyword, "PIPELINING")) {
      caps.pipelining = true;
    } else if (iequals(keyword, "SIZE")) {
      // RFC 1870 §4: "SIZE n" is the fixed maximum, 0 or no number none.
      caps.size = true;
      std::uint64_t n = 0;
      auto [end, ec] = std::from_chars(params.data(), params.data() + params.size(), n);
      caps.size_limit = (ec == std::errc{} && end == params.data() + params.size()) ? n : 0;
    } else if (iequals(keyword, "8BITMIME")) {
      caps.eightbitmime = true;
    } else if (iequals(keyword, "SMTPUTF8")) {
      caps.smtputf8 = true;
    } else if (iequals(keyword, "STARTTLS")) {
      caps.starttls = true;
    } else if (iequals(keyword, "ENHANCEDSTATUSCODES")) {
      caps.enhanced_status_codes = true;
    } else if (iequals(keyword, "CHUNKING")) {
      caps.chunking = true;
    } else if (iequals(keyword, "DSN")) {
      caps.dsn = true;
    } else if (iequals(keyword, "AUTH")) {
      while (!params.empty()) {
        std::size_t end = params.find(' ');
        std::string mech = to_upper(params.substr(0, end));
        if (!mech.empty() && !caps.has_auth(mech) && caps.auth_mechanisms.size() < 32)
          caps.auth_mechanisms.push_back(std::move(mech));
        params = end == std::string_view::npos ? std::string_view{} : trim(params.substr(end + 1));
      }
    }
  }
  return caps;
}

std::string plain_token(const ClientCredentials& c) {
  // RFC 4616 §2: message = [authzid] NUL authcid NUL passwd; no authzid.
  std::string message;
  message.reserve(c.username.size() + c.password.size() + 2);
  message += '\0';
  message += c.username;
  message += '\0';
  message += c.password;
  return base64_encode(message);
}

}  // namespace

bool ServerCapabilities::has_auth(std::string_view mechanism) const {
  for (const auto& m : auth_mechanisms)
    if (iequals(m, mechanism)) return true;
  return false;
}

bool TransactionResult::all_delivered() const {
  for (const auto& r : recipients)
    if (r.response.outcome != Outcome::delivered) return false;
  return true;
}

Error ClientFailure::to_error() const {
  std::string text = reply ? reply_summary(*reply) : detail;
  std::string log = reply ? fmt::format("{}: {}", detail, log_escape(reply_summary(*reply), 512)) : detail;
  return Error{temporary ? Error::Kind::temporary : Error::Kind::permanent, std::move(text), std::move(log)};
}

ClientSession::ClientSession(ClientSettings settings) : settings_(std::move(settings)), parser_(settings_.reply_limits) {
  require(!settings_.helo_name.empty() && !has_control(settings_.helo_name) &&
              settings_.helo_name.find(' ') == std::string::npos,
          "helo_name must be one word without control characters");
  tls_active_ = settings_.tls == ClientTls::implicit;
  // RFC 5321 §3.1: the server speaks first.
  pending_.push_back({Await::greeting});
}

// --- driver interface -------------------------------------------------------

ClientAction ClientSession::action() const {
  switch (state_) {
    case State::tls_handshake: return ClientAction::start_tls;
    case State::body: return ClientAction::send_body;
    case State::ready: return ClientAction::ready;
    case State::closed: return ClientAction::close;
    default: return ClientAction::read_reply;
  }
}

seconds ClientSession::timeout_for_current_state() const {
  switch (state_) {
    case State::ready:
    case State::closed: return seconds{0};
    // Not in RFC 5321; 5 minutes like Postfix's smtp_starttls_timeout.
    case State::tls_handshake: return seconds{300};
    // RFC 5321 §4.5.3.2.5: each send of a data block, 3 minutes.
    case State::body: return seconds{180};
    default: break;
  }
  if (pending_.empty()) return seconds{300};
  switch (pending_.front().await) {
    case Await::greeting: return seconds{300};  // §4.5.3.2.1 initial 220
    case Await::mail: return seconds{300};      // §4.5.3.2.2
    case Await::rcpt: return seconds{300};      // §4.5.3.2.3
    case Await::data: return seconds{120};      // §4.5.3.2.4 DATA initiation
    case Await::dot:
    case Await::dot_discard: return seconds{600};  // §4.5.3.2.6 DATA termination
    // EHLO, STARTTLS, AUTH, RSET, QUIT have no figure in §4.5.3.2; 5 minutes
    // like MAIL (and Postfix's smtp_helo_timeout).
    default: return seconds{300};
  }
}

void ClientSession::feed(std::string_view bytes) {
  std::string_view rest = bytes;
  while (!rest.empty() && state_ != State::closed) {
    if (state_ == State::tls_handshake) {
      // RFC 3207 §5 (and CVE-2011-0411 turned around): anything after the
      // 220 and before the handshake would be read as if it came over TLS.
      fail(ClientFailure::Stage::starttls, true, std::nullopt,
           "data after the 220 to STARTTLS, before the TLS handshake", false);
      return;
    }
    ReplyStep step = parser_.parse(rest);
    if (!step) {
      if (state_ == State::quit) {  // leaving anyway; nothing is lost
        state_ = State::closed;
        pending_.clear();
        return;
      }
      fail(current_stage(), true, std::nullopt, "malformed reply: " + step.error().reason, false);
      return;
    }
    if (!*step) break;  // need more bytes
    on_reply(**step);
  }
}

void ClientSession::on_tls_started() {
  require(state_ == State::tls_handshake, "on_tls_started() outside start_tls");
  tls_active_ = true;
  // RFC 3207 §4.2: forget what the server said before TLS and ask again.
  caps_ = ServerCapabilities{};
  state_ = State::ehlo;
  send(fmt::format("EHLO {}", settings_.helo_name), Await::ehlo);
}

void ClientSession::on_tls_failed(std::string_view detail) {
  if (state_ == State::closed) return;
  require(state_ == State::tls_handshake, "on_tls_failed() outside start_tls");
  // The socket is in an unknown state after a failed handshake: no QUIT.
  fail(ClientFailure::Stage::tls_handshake, true, std::nullopt, fmt::format("TLS handshake failed: {}", detail),
       false);
}

void ClientSession::send_message(OutgoingMessage message) {
  require(state_ == State::ready, "send_message() outside ready");
  Transaction t;
  std::size_t n = message.recipients.size();
  t.rcpt.resize(n);
  t.accepted.assign(n, false);
  t.smtputf8 = message.needs_smtputf8 || non_ascii(message.mail_from);
  for (const auto& r : message.recipients) t.smtputf8 = t.smtputf8 || non_ascii(r);
  t.message = std::move(message);
  txn_ = std::move(t);
  Transaction& tx = *txn_;

  auto refuse_all = [&](const Reply& reply) {
    for (auto& r : tx.rcpt)
      if (!r) r = Response{Outcome::permanent, reply, true};
    finish_transaction();
  };
  // Addresses come from our own queue, but a CR or LF in one would inject a
  // command; refuse rather than send (RFC 5321 §4.1.2 allows no controls).
  if (has_control(tx.message.mail_from))
    return refuse_all(Reply{501, "5.1.7", "sender address contains control characters"});
  std::size_t sendable = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (has_control(tx.message.recipients[i]))
      tx.rcpt[i] = Response{Outcome::permanent, Reply{501, "5.1.3", "recipient address contains control characters"},
                            true};
    else
      ++sendable;
  }
  if (sendable == 0) return finish_transaction();
  // RFC 1870 §4: a message over the server's fixed maximum "will be rejected
  // with a permanent failure (552)"; say so without sending it.
  if (caps_.size && caps_.size_limit > 0 && tx.message.size > caps_.size_limit)
    return refuse_all(Reply{552, "5.3.4",
                            fmt::format("message too big for remote server ({} > {} octets)", tx.message.size,
                                        caps_.size_limit)});
  // RFC 6531 §3.2: without SMTPUTF8 at the server, a message that needs it
  // must not be sent; it is returned to the sender (we do not downgrade).
  if (tx.smtputf8 && !caps_.smtputf8)
    return refuse_all(Reply{553, "5.6.7", "remote server does not support SMTPUTF8"});

  state_ = State::transaction;
  if (caps_.pipelining) {
    // RFC 2920 §3.1: RSET, MAIL and RCPT may share a group, DATA ends it.
    if (needs_rset_) send("RSET", Await::rset);
    send(mail_line(), Await::mail);
    tx.mail_sent = true;
    for (std::size_t i = 0; i < n; ++i)
      if (!tx.rcpt[i]) send(fmt::format("RCPT TO:<{}>", tx.message.recipients[i]), Await::rcpt, i);
    tx.next_rcpt = n;
    send("DATA", Await::data);
    tx.data_sent = true;
    return;
  }
  if (needs_rset_) {
    send("RSET", Await::rset);
    return;
  }
  continue_transaction();
}

void ClientSession::send_body_chunk(std::string_view chunk) {
  require(state_ == State::body, "send_body_chunk() outside send_body");
  stuffer_.feed(chunk, out_);
}

void ClientSession::end_body() {
  require(state_ == State::body, "end_body() outside send_body");
  stuffer_.finish(out_);
  trace_.push_back(fmt::format("<message text, {} octets>", stuffer_.bytes_in()));
  trace_.emplace_back(".");
  txn_->body_sent = true;
  state_ = State::transaction;
  pending_.push_back({Await::dot});
}

void ClientSession::quit() {
  if (state_ == State::closed) return;
  require(state_ == State::ready, "quit() outside ready");
  state_ = State::quit;
  send("QUIT", Await::quit);
}

void ClientSession::on_timeout() {
  if (state_ == State::closed) return;
  if (state_ == State::quit) {  // RFC 5321 §4.1.1.10: we were leaving anyway
    state_ = State::closed;
    pending_.clear();
    return;
  }
  fail(current_stage(), true, std::nullopt, "timeout waiting for the server", false);
}

void ClientSession::on_connection_closed(std::string_view detail) {
  if (state_ == State::closed) return;
  if (state_ == State::quit) {
    state_ = State::closed;
    pending_.clear();
    return;
  }
  fail(current_stage(), true, std::nullopt, std::string(detail), false);
}

std::optional<TransactionResult> ClientSession::take_result() {
  if (results_.empty()) return std::nullopt;
  TransactionResult r = std::move(results_.front());
  results_.pop_front();
  return r;
}

std::string ClientSession::redacted_transcript_line(std::string_view line, bool in_auth_exchange) {
  if (istarts_with(line, "AUTH ")) {
    std::size_t sp = line.find(' ', 5);
    if (sp == std::string_view::npos) return std::string(line);  // "AUTH LOGIN": no payload
    return fmt::format("{} ***", line.substr(0, sp));
  }
  return in_auth_exchange ? "***" : std::string(line);
}

// --- replies ----------------------------------------------------------------

void ClientSession::on_reply(const Reply& reply) {
  last_reply_ = reply;
  if (pending_.empty()) {
    // A reply nobody asked for: often "421 timeout" before the server closes
    // an idle connection (RFC 5321 §3.8). Either way the dialogue is over.
    fail(current_stage(), true, reply, "reply without a command", false);
    return;
  }
  Pending p = pending_.front();
  pending_.pop_front();
  // RFC 5321 §3.8: 421 to any command means the server is closing the channel.
  if (reply.code == 421 && p.await != Await::quit) {
    fail(current_stage(), true, reply, "server is closing the connection", false);
    return;
  }
  switch (p.await) {
    case Await::greeting: return on_greeting(reply);
    case Await::ehlo: return on_ehlo(reply);
    case Await::helo: return on_helo(reply);
    case Await::starttls: return on_starttls(reply);
    case Await::auth_plain:
    case Await::auth_plain_response:
    case Await::auth_login_user:
    case Await::auth_login_password:
    case Await::auth_done: return on_auth(p.await, reply);
    case Await::rset: return on_rset(reply);
    case Await::mail: return on_mail(reply);
    case Await::rcpt: return on_rcpt(p.index, reply);
    case Await::data: return on_data(reply);
    case Await::dot:
    case Await::dot_discard: return on_dot(p.await, reply);
    case Await::quit:
      // RFC 5321 §4.1.1.10: 221, then the server closes; any reply will do.
      state_ = State::closed;
      pending_.clear();
      return;
  }
}

void ClientSession::on_greeting(const Reply& reply) {
  if (reply.code == 220) {
    state_ = State::ehlo;
    send(fmt::format("EHLO {}", settings_.helo_name), Await::ehlo);
    return;
  }
  // RFC 5321 §3.1: a 554 greeting means "no service here"; the server still
  // waits for QUIT, which fail_with_reply sends.
  fail_with_reply(ClientFailure::Stage::greeting, reply, "greeting refused");
}

void ClientSession::on_ehlo(const Reply& reply) {
  if (positive_completion(reply)) {
    caps_ = parse_ehlo(reply);
    return after_hello();
  }
  if (reply.code >= 500) {
    // RFC 5321 §3.2: a server that does not know EHLO answers 5xx (502, 500);
    // the client then falls back to HELO and uses no extensions.
    state_ = State::helo;
    send(fmt::format("HELO {}", settings_.helo_name), Await::helo);
    return;
  }
  fail_with_reply(ClientFailure::Stage::helo, reply, "EHLO refused");
}

void ClientSession::on_helo(const Reply& reply) {
  if (!positive_completion(reply)) return fail_with_reply(ClientFailure::Stage::helo, reply, "HELO refused");
  caps_ = ServerCapabilities{};
  after_hello();
}

void ClientSession::after_hello() {
  if (!tls_active_ && settings_.tls != ClientTls::off) {
    if (caps_.starttls) {
      state_ = State::starttls;
      send("STARTTLS", Await::starttls);
      return;
    }
    if (settings_.tls == ClientTls::required)
      // Like Postfix, a policy mismatch defers: the server may offer TLS later.
      return fail(ClientFailure::Stage::starttls, true, std::nullopt,
                  "TLS is required but the server does not offer STARTTLS", true);
  }
  start_auth();
}

void ClientSession::on_starttls(const Reply& reply) {
  if (reply.code == 220) {
    // RFC 3207 §4.2: nothing may follow the 220 in clear; see feed().
    if (parser_.mid_reply())
      return fail(ClientFailure::Stage::starttls, true, std::nullopt,
                  "data after the 220 to STARTTLS, before the TLS handshake", false);
    state_ = State::tls_handshake;
    return;
  }
  if (settings_.tls == ClientTls::required || reply.code < 400)
    return fail(ClientFailure::Stage::starttls, true, reply,
                reply.code < 400 ? "unexpected reply to STARTTLS" : "TLS is required but STARTTLS was refused",
                reply.code >= 400);
  // RFC 3207 §4: after a 454 (or any refusal) the client may go on in clear;
  // that is what opportunistic TLS means.
  start_auth();
}

void ClientSession::start_auth() {
  if (!settings_.credentials) {
    state_ = State::ready;
    return;
  }
  // A password in clear only when the configuration asked for no TLS at all.
  if (!tls_active_ && settings_.tls != ClientTls::off)
    return fail(ClientFailure::Stage::auth, true, std::nullopt, "refusing to send credentials without TLS", true);
  state_ = State::auth;
  // RFC 4954: our preference is PLAIN (one round trip), then LOGIN.
  if (caps_.has_auth("PLAIN")) {
    std::string line = "AUTH PLAIN " + plain_token(*settings_.credentials);
    // RFC 4954 §4: the initial response goes on the command line unless that
    // would pass 512 octets; then it follows an empty "334 " challenge.
    if (line.size() + 2 <= 512)
      send_secret(line, Await::auth_plain);
    else
      send("AUTH PLAIN", Await::auth_plain_response);
    return;
  }
  if (caps_.has_auth("LOGIN")) {
    send("AUTH LOGIN", Await::auth_login_user);
    return;
  }
  fail(ClientFailure::Stage::auth, true, std::nullopt, "server offers no AUTH mechanism we support (PLAIN, LOGIN)",
       true);
}

void ClientSession::on_auth(Await await, const Reply& reply) {
  const ClientCredentials& c = *settings_.credentials;
  switch (await) {
    case Await::auth_plain:
    case Await::auth_done:
      if (reply.code == 235) {  // RFC 4954 §6
        authenticated_ = true;
        state_ = State::ready;
        return;
      }
      break;
    case Await::auth_plain_response:
      if (reply.code == 334) return send_secret(plain_token(c), Await::auth_done);
      break;
    // AUTH LOGIN (draft-murchison-sasl-login): the server prompts "Username:"
    // then "Password:" in base64. We answer by position, not by the prompt's
    // text, since servers spell it differently ("VXNlcm5hbWU6",
    // "VXNlcm5hbWU=").
    case Await::auth_login_user:
      if (reply.code == 334) return send_secret(base64_encode(c.username), Await::auth_login_password);
      break;
    case Await::auth_login_password:
      if (reply.code == 334) return send_secret(base64_encode(c.password), Await::auth_done);
      break;
    default: break;
  }
  if (reply.code < 400)
    return fail(ClientFailure::Stage::auth, true, reply, "unexpected reply during AUTH", false);
  // RFC 4954 §6: 535 bad credentials, 534 mechanism too weak, 454 temporary.
  // Like Postfix (smtp_sasl_auth_soft_bounce) we defer rather than bounce:
  // wrong credentials are ours to fix, not the senders' fault.
  fail(ClientFailure::Stage::auth, true, reply, "authentication failed", true);
}

void ClientSession::on_rset(const Reply& reply) {
  if (!positive_completion(reply))
    return fail(ClientFailure::Stage::transaction, true, reply, "RSET refused", reply.code >= 400);
  needs_rset_ = false;
  continue_transaction();
}

void ClientSession::on_mail(const Reply& reply) {
  Transaction& t = *txn_;
  t.mail_done = true;
  if (positive_completion(reply)) {
    needs_rset_ = true;  // until the transaction ends at the final reply
    return continue_transaction();
  }
  // RFC 5321 §4.1.1.2: no transaction; every recipient shares MAIL's fate.
  t.mail_failed = true;
  for (auto& r : t.rcpt)
    if (!r) r = Response{failure_outcome(reply), reply};
  continue_transaction();
}

void ClientSession::on_rcpt(std::size_t index, const Reply& reply) {
  Transaction& t = *txn_;
  if (!t.mail_failed) {
    // RFC 5321 §4.1.1.3: 250 or 251 accept; each recipient keeps its reply.
    if (positive_completion(reply)) {
      t.accepted[index] = true;
      ++t.accepted_count;
    } else {
      t.rcpt[index] = Response{failure_outcome(reply), reply};
    }
  }
  continue_transaction();
}

void ClientSession::on_data(const Reply& reply) {
  Transaction& t = *txn_;
  if (t.mail_failed || t.accepted_count == 0) {
    if (reply.code == 354) {
      // RFC 2920 §3.1: the server should have refused DATA with no valid
      // recipient; "if the DATA command was accepted the client SMTP should
      // send a single dot". Every recipient keeps its own failure.
      out_ += ".\r\n";
      trace_.emplace_back(".");
      pending_.push_back({Await::dot_discard});
      return;
    }
    // Refused as it should be; the open MAIL (if any) is cleared by RSET
    // before the next message.
    return continue_transaction();
  }
  if (reply.code == 354) {
    state_ = State::body;
    stuffer_ = DotStuffer{};
    return;
  }
  // A refused DATA fails every accepted recipient alike.
  for (std::size_t i = 0; i < t.rcpt.size(); ++i)
    if (t.accepted[i] && !t.rcpt[i]) t.rcpt[i] = Response{failure_outcome(reply), reply};
  continue_transaction();
}

void ClientSession::on_dot(Await await, const Reply& reply) {
  Transaction& t = *txn_;
  // RFC 5321 §4.1.1.4: the reply to the end of data ends the transaction
  // whatever it says; no RSET is needed after it.
  needs_rset_ = false;
  if (await == Await::dot) {
    Response r{positive_completion(reply) ? Outcome::delivered : failure_outcome(reply), reply};
    for (std::size_t i = 0; i < t.rcpt.size(); ++i)
      if (t.accepted[i] && !t.rcpt[i]) t.rcpt[i] = r;
  }
  continue_transaction();
}

// --- transaction ------------------------------------------------------------

std::string ClientSession::mail_line() const {
  const Transaction& t = *txn_;
  std::string line = fmt::format("MAIL FROM:<{}>", t.message.mail_from);
  // RFC 1870 §5: SIZE= only to a server that announced SIZE.
  if (caps_.size && t.message.size > 0) line += fmt::format(" SIZE={}", t.message.size);
  // RFC 6152 §3: BODY=8BITMIME only when announced. Without it we send the
  // octets as they are, like Postfix: downgrading is not worth the risk of
  // breaking signatures, and practically every server accepts 8-bit text.
  if (t.message.body_8bit && caps_.eightbitmime) line += " BODY=8BITMIME";
  if (t.smtputf8) line += " SMTPUTF8";  // RFC 6531 §3.4
  return line;
}

void ClientSession::continue_transaction() {
  if (!pending_.empty() || state_ != State::transaction) return;  // replies still to come
  Transaction& t = *txn_;
  if (!t.mail_sent) {
    t.mail_sent = true;
    return send(mail_line(), Await::mail);
  }
  if (t.mail_failed) return finish_transaction();
  // Without PIPELINING: one RCPT at a time, each after the last reply.
  while (t.next_rcpt < t.rcpt.size() && t.rcpt[t.next_rcpt]) ++t.next_rcpt;
  if (t.next_rcpt < t.rcpt.size()) {
    std::size_t i = t.next_rcpt++;
    return send(fmt::format("RCPT TO:<{}>", t.message.recipients[i]), Await::rcpt, i);
  }
  if (!t.data_sent && t.accepted_count > 0) {
    t.data_sent = true;
    return send("DATA", Await::data);
  }
  finish_transaction();
}

void ClientSession::finish_transaction() {
  Transaction& t = *txn_;
  TransactionResult result;
  result.body_sent = t.body_sent;
  result.recipients.reserve(t.rcpt.size());
  for (std::size_t i = 0; i < t.rcpt.size(); ++i) {
    // Every recipient has its answer by now; the fallback is only defensive.
    Response r = t.rcpt[i].value_or(
        Response{Outcome::temporary, Reply{451, "4.3.0", "transaction ended without a result"}, true});
    result.recipients.push_back({std::move(t.message.recipients[i]), std::move(r)});
  }
  results_.push_back(std::move(result));
  txn_.reset();
  if (state_ == State::transaction || state_ == State::ready) state_ = State::ready;
}

// --- output and failure -----------------------------------------------------

void ClientSession::send(std::string_view line, Await await, std::size_t index) {
  out_.append(line);
  out_ += "\r\n";
  trace_.emplace_back(line);
  pending_.push_back({await, index});
}

void ClientSession::send_secret(std::string_view line, Await await) {
  out_.append(line);
  out_ += "\r\n";
  trace_.push_back(redacted_transcript_line(line, true));
  pending_.push_back({await, 0});
}

ClientFailure::Stage ClientSession::current_stage() const {
  switch (state_) {
    case State::greeting: return ClientFailure::Stage::greeting;
    case State::ehlo:
    case State::helo: return ClientFailure::Stage::helo;
    case State::starttls: return ClientFailure::Stage::starttls;
    case State::tls_handshake: return ClientFailure::Stage::tls_handshake;
    case State::auth: return ClientFailure::Stage::auth;
    case State::ready:
    case State::transaction:
    case State::body: return ClientFailure::Stage::transaction;
    case State::quit:
    case State::closed: return ClientFailure::Stage::connection;
  }
  return ClientFailure::Stage::connection;
}

void ClientSession::fail_with_reply(ClientFailure::Stage stage, const Reply& reply, std::string detail) {
  if (reply.code < 400) {
    // A positive reply where a refusal or another positive one belongs: the
    // dialogue is out of step, so no QUIT.
    return fail(stage, true, reply, "unexpected reply: " + detail, false);
  }
  fail(stage, reply.code < 500, reply, std::move(detail), true);
}

void ClientSession::fail(ClientFailure::Stage stage, bool temporary, std::optional<Reply> reply, std::string detail,
                         bool quit_politely) {
  if (state_ == State::closed) return;
  // Every recipient of the message in flight without a final answer is
  // retried: even after the final "." the reply is what makes it ours to
  // forget (RFC 5321 §6.1; a lost reply may give a duplicate, never a loss).
  if (txn_) {
    Response r = reply ? Response{Outcome::temporary, *reply, false}
                       : Response{Outcome::temporary, Reply{451, "4.4.2", detail}, true};
    for (auto& x : txn_->rcpt)
      if (!x) x = r;
    finish_transaction();
  }
  // QUIT only when no other reply is due and no DATA is open, so that it is
  // read as a command.
  if (quit_politely && pending_.empty() && state_ != State::body) {
    out_ += "QUIT\r\n";
    trace_.emplace_back("QUIT");
  }
  pending_.clear();
  failure_ = ClientFailure{stage, temporary, std::move(reply), std::move(detail)};
  state_ = State::closed;
}

}  // namespace tern::smtp
