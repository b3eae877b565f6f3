// The SMTP client side (RFC 5321, with PIPELINING 2920, SIZE 1870, 8BITMIME
// 6152, SMTPUTF8 6531, STARTTLS 3207, AUTH 4954) as a pure state machine for
// one connection and any number of messages: server bytes in through feed(),
// command bytes out through output(), everything else as a value the driver
// polls. No sockets, timers, TLS or threads here: the driver owns those.
//
// Calling contract for the driver (an Asio coroutine, or a test):
//   after constructing, and after EVERY call that changes the session
//   (feed, on_*, send_message, send_body_chunk, end_body, quit):
//     1. write output() to the peer (it may be empty), then clear_output();
//        log redacted_trace() instead of output(), then it is cleared too;
//     2. drain take_result() (one TransactionResult per send_message());
//     3. act on action():
//        read_reply → read with deadline timeout_for_current_state(), then
//                     feed(bytes); on EOF/error on_connection_closed(); on the
//                     deadline on_timeout()
//        start_tls  → TLS handshake on the same socket, then on_tls_started()
//                     or on_tls_failed(); nothing was read after the 220
//        send_body  → send_body_chunk(chunk) for each piece of the message
//                     (writing output() after each), then end_body()
//        ready      → send_message(next) or quit()
//        close      → close the socket; failure() says why, or is empty
#pragma once
#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"
#include "protocol/smtp/dot_stuffer.hpp"
#include "protocol/smtp/reply.hpp"
#include "protocol/smtp/reply_parser.hpp"

namespace tern::smtp {

enum class ClientTls {
  off,            // never STARTTLS; AUTH may then go in clear (explicit choice)
  opportunistic,  // STARTTLS when offered; carry on in clear if it is refused
  required,       // no STARTTLS offered or accepted: temporary failure
  implicit,       // the driver did TLS before the greeting (port 465)
};

struct ClientCredentials {
  std::string username;
  std::string password;  // goes only into the AUTH exchange, never a trace
};

struct ClientSettings {
  std::string helo_name;  // our host name for EHLO/HELO
  ClientTls tls = ClientTls::opportunistic;
  // AUTH PLAIN, else AUTH LOGIN (RFC 4954). Refused over a channel without
  // TLS unless tls is ClientTls::off.
  std::optional<ClientCredentials> credentials;
  ReplyLimits reply_limits{};
};

// What the server announced in its EHLO reply (RFC 5321 §4.1.1.1).
struct ServerCapabilities {
  bool esmtp = false;  // EHLO answered; false after a HELO fallback
  bool pipelining = false;
  bool size = false;
  std::uint64_t size_limit = 0;  // 0: none announced (RFC 1870 §4)
  bool eightbitmime = false;
  bool smtputf8 = false;
  bool starttls = false;
  bool enhanced_status_codes = false;
  bool chunking = false;
  bool dsn = false;
  std::vector<std::string> auth_mechanisms;  // upper-cased

  bool has_auth(std::string_view mechanism) const;
};

// One message to hand over. Addresses are "local@domain" as stored; an empty
// mail_from is the null reverse-path <>.
struct OutgoingMessage {
  std::string mail_from;
  std::vector<std::string> recipients;
  std::uint64_t size = 0;  // octets with CRLF line ends, before dot-stuffing
  bool needs_smtputf8 = false;
  bool body_8bit = false;
};

// delivered: the server took responsibility (2xx to the end of data).
// temporary: retry later (4xx, connection problems). permanent: bounce (5xx).
enum class Outcome { delivered, temporary, permanent };

struct Response {
  Outcome outcome = Outcome::temporary;
  Reply reply{451, "4.4.2", "no reply"};
  // True when we made the reply up ourselves: a local refusal (SIZE,
  // SMTPUTF8) or a connection problem, never said by the server.
  bool local = false;
};

struct RecipientResult {
  std::string recipient;
  Response response;
};

struct TransactionResult {
  std::vector<RecipientResult> recipients;  // in the order given
  bool body_sent = false;  // the message text went out ("." included)

  bool all_delivered() const;
};

// Why the connection ended badly. Temporary: try again later or another MX;
// permanent: the server refused us for good (5xx greeting or HELO).
struct ClientFailure {
  enum class Stage { greeting, helo, starttls, tls_handshake, auth, transaction, connection };
  Stage stage = Stage::connection;
  bool temporary = true;
  std::optional<Reply> reply;  // the server's reply that caused it, if any
  std::string detail;          // for the log; no secrets, no raw peer bytes

  // The STARTTLS handshake failed: with opportunistic TLS, reconnect with
  // ClientTls::off (RFC 3207 §4.1 leaves this to the client's policy).
  bool tls_handshake_failed() const { return stage == Stage::tls_handshake; }
  Error to_error() const;
};

enum class ClientAction { read_reply, start_tls, send_body, ready, close };

class ClientSession {
 public:
  explicit ClientSession(ClientSettings settings);

  // Server bytes, in any chunking. Ignored once the action is close.
  void feed(std::string_view bytes);

  const std::string& output() const { return out_; }
  // One line per command put into output(), with AUTH payloads as "***" and
  // the message text as a size; for the protocol trace log.
  const std::vector<std::string>& redacted_trace() const { return trace_; }
  void clear_output() {
    out_.clear();
    trace_.clear();
  }

  ClientAction action() const;
  // RFC 5321 §4.5.3.2 deadline for what the session now waits for; zero when
  // it waits for nothing (ready, close).
  std::chrono::seconds timeout_for_current_state() const;

  // The TLS handshake after "220" to STARTTLS finished or failed.
  void on_tls_started();
  void on_tls_failed(std::string_view detail);

  // Only in action() == ready. A refusal we can decide locally gives its
  // result at once without sending anything.
  void send_message(OutgoingMessage message);
  // Only in action() == send_body.
  void send_body_chunk(std::string_view chunk);
  void end_body();
  // Only in action() == ready (elsewhere: just close the socket and call
  // on_connection_closed()). Sends QUIT and waits for 221 or the close.
  void quit();

  void on_timeout();
  void on_connection_closed(std::string_view detail = "connection closed by server");

  std::optional<TransactionResult> take_result();
  const std::optional<ClientFailure>& failure() const { return failure_; }

  const ServerCapabilities& capabilities() const { return caps_; }
  bool tls_active() const { return tls_active_; }
  bool authenticated() const { return authenticated_; }
  // The last reply from the server, for the log.
  const std::optional<Reply>& last_reply() const { return last_reply_; }

  // Replaces what follows "AUTH <mechanism>" and any line sent during an AUTH
  // exchange by "***"; other lines unchanged. For drivers that log lines
  // themselves; redacted_trace() already applies it.
  static std::string redacted_transcript_line(std::string_view line, bool in_auth_exchange);

 private:
  enum class State {
    greeting, ehlo, helo, starttls, tls_handshake, auth,
    ready, transaction, body, quit, closed,
  };
  // What a sent command's reply will answer, in order (RFC 2920 §3.1).
  enum class Await {
    greeting, ehlo, helo, starttls,
    auth_plain, auth_plain_response, auth_login_user, auth_login_password, auth_done,
    rset, mail, rcpt, data, dot, dot_discard, quit,
  };
  struct Pending {
    Await await;
    std::size_t index = 0;  // the recipient, for rcpt
  };
  struct Transaction {
    OutgoingMessage message;
    std::vector<std::optional<Response>> rcpt;  // accepted ones wait for the end
    std::vector<bool> accepted;
    bool smtputf8 = false;         // the SMTPUTF8 parameter goes with MAIL
    std::size_t next_rcpt = 0;     // without PIPELINING, the next RCPT to send
    bool mail_sent = false;
    bool mail_done = false;        // MAIL was answered
    bool mail_failed = false;
    bool data_sent = false;
    bool body_sent = false;
    std::size_t accepted_count = 0;
  };

  void on_reply(const Reply& reply);
  void on_greeting(const Reply& reply);
  void on_ehlo(const Reply& reply);
  void on_helo(const Reply& reply);
  void on_starttls(const Reply& reply);
  void on_auth(Await await, const Reply& reply);
  void on_rset(const Reply& reply);
  void on_mail(const Reply& reply);
  void on_rcpt(std::size_t index, const Reply& reply);
  void on_data(const Reply& reply);
  void on_dot(Await await, const Reply& reply);
  void after_hello();
  void start_auth();
  std::string mail_line() const;
  void continue_transaction();
  void finish_transaction();

  void send(std::string_view line, Await await, std::size_t index = 0);
  void send_secret(std::string_view line, Await await);
  // Ends the connection. quit_politely: the dialogue is still in step, so a
  // QUIT goes out before the close (not after 421, errors or a timeout).
  void fail(ClientFailure::Stage stage, bool temporary, std::optional<Reply> reply, std::string detail,
            bool quit_politely);
  void fail_with_reply(ClientFailure::Stage stage, const Reply& reply, std::string detail);
  ClientFailure::Stage current_stage() const;

  ClientSettings settings_;
  ReplyParser parser_;
  DotStuffer stuffer_;
  State state_ = State::greeting;
  std::deque<Pending> pending_;
  std::string out_;
  std::vector<std::string> trace_;
  ServerCapabilities caps_;
  bool tls_active_ = false;
  bool authenticated_ = false;
  bool needs_rset_ = false;  // a MAIL was accepted and its transaction not ended
  std::optional<Transaction> txn_;
  std::deque<TransactionResult> results_;
  std::optional<ClientFailure> failure_;
  std::optional<Reply> last_reply_;
};

}  // namespace tern::smtp
