// The SMTP server side (RFC 5321, with PIPELINING 2920, SIZE 1870, 8BITMIME 6152,
// SMTPUTF8 6531, ENHANCEDSTATUSCODES 2034/3463) as a pure state machine: bytes in
// through feed(), reply bytes out through output(), services through the
// SessionServices interface. No sockets, timers or threads here: the runtime
// drives it, and tests drive it with transcripts.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "base/config.hpp"
#include "protocol/smtp/command.hpp"
#include "protocol/smtp/data_decoder.hpp"
#include "protocol/smtp/reply.hpp"
#include "protocol/smtp/sasl.hpp"
#include "protocol/smtp/session_services.hpp"

namespace tern::smtp {

struct SessionSettings {
  std::string hostname;
  SmtpConfig limits;
  std::size_t max_command_line = 512;  // RFC 5321 §4.5.3.1.4, CRLF included
  bool tls_available = false;          // offer STARTTLS (RFC 3207)
  bool auth_available = false;         // offer AUTH PLAIN LOGIN (RFC 4954)
  bool auth_without_tls = false;       // ...also before STARTTLS (loopback testing only)
  bool require_auth = false;           // submission (RFC 6409 §4.3): MAIL needs AUTH first
  bool check_from_header = true;       // an authenticated user's From: must be its own too
};

class ServerSession {
 public:
  ServerSession(const SessionSettings& settings, SessionServices& services, std::string client_ip);

  // The 220 greeting; call once before feeding.
  void start();
  // Appends bytes from the client and processes as much as possible. Stops
  // early while a commit is pending or once the session is closing.
  void feed(std::string_view bytes);
  // Reply bytes produced so far; the driver sends them and calls clear_output().
  const std::string& output() const { return out_; }
  void clear_output() { out_.clear(); }

  // End of DATA reached with an acceptable message: the driver must make the
  // message durable (off the I/O thread) and then call on_commit().
  bool awaiting_commit() const { return state_ == State::awaiting_commit; }
  void on_commit(const Result<void>& result);
  // Policy refused the message after its data (DMARC p=reject, a blocklisted
  // sender domain): answers `refusal` instead of committing. The driver has
  // discarded what it stored.
  void on_commit_refused(const Reply& refusal);

  // After "220 Ready to start TLS": the driver runs the TLS handshake on the
  // socket, then calls on_tls_started() (or on_tls_failed()).
  bool wants_tls() const { return state_ == State::awaiting_tls; }
  void on_tls_started();
  void on_tls_failed();
  // Implicit TLS (RFC 8314, port 465): TLS was up before the greeting.
  void assume_tls() { tls_active_ = true; }
  bool tls_active() const { return tls_active_; }

  // AUTH: the client's credentials are decoded; the driver checks them off
  // the I/O thread (password hashing) and calls on_auth_result().
  bool wants_auth_check() const { return state_ == State::awaiting_auth; }
  const SaslCredentials& credentials() const { return credentials_; }
  void on_auth_result(bool accepted);
  // Too many failures from this client or for this account: 421 and close.
  void on_auth_throttled();
  // Between "AUTH" and its end: input then holds secrets, never to be logged.
  bool in_auth_exchange() const { return state_ == State::auth_response || state_ == State::awaiting_auth; }
  const std::string& authenticated_user() const { return auth_user_; }

  bool closing() const { return state_ == State::closed; }
  bool in_data() const { return state_ == State::data || state_ == State::awaiting_commit; }
  bool idle() const { return state_ == State::command && pending_input() == 0; }
  std::size_t pending_input() const { return in_.size() - in_pos_; }

  // The read deadline passed: 421 4.4.2 and close (RFC 5321 §4.5.3.2).
  void on_timeout();
  // The server is stopping: 421 4.3.2 now, or after the message in flight.
  void on_shutdown();

  const std::string& queue_id() const { return queue_id_; }
  const Envelope& envelope() const { return env_; }
  // The last reply's first line, for the mail log.
  const std::string& last_reply_line() const { return last_reply_; }

 private:
  enum class State { greeting, command, data, awaiting_commit, awaiting_tls, auth_response, awaiting_auth, closed };
  enum class AuthStep { plain, login_user, login_password };

  void process();
  void process_command_line(std::string_view line);
  void process_data();
  void finish_data();

  void reply(const Reply& r);
  void close_with(const Reply& r);
  void reset_transaction();

  void on_helo(const Command& c, bool extended);
  void on_mail(const ParsedCommand& c);
  void on_rcpt(const ParsedCommand& c);
  void on_data(const Command& c);
  void on_rset(const Command& c);
  void on_vrfy(const Command& c);
  void on_help(const Command& c);
  void on_starttls(const Command& c);
  void on_auth(const Command& c);
  void on_auth_response(std::string_view line);
  void auth_error(SaslError e);

  const SessionSettings& settings_;
  SessionServices& services_;
  State state_ = State::greeting;
  std::string out_;
  std::string in_;
  std::size_t in_pos_ = 0;
  bool discarding_long_line_ = false;
  bool esmtp_ = false;
  bool helo_seen_ = false;
  bool mail_seen_ = false;
  bool shutdown_pending_ = false;
  bool tls_active_ = false;
  AuthStep auth_step_ = AuthStep::plain;
  SaslCredentials credentials_;
  std::string auth_user_;
  std::string header_copy_;
  bool header_done_for_copy_ = false;  // the header section of an authenticated submission, for the From: check
  unsigned consecutive_errors_ = 0;
  bool exempt_from_error_budget_ = false;
  Envelope env_;
  DataDecoder decoder_;
  std::string data_scratch_;
  std::uint64_t data_size_ = 0;
  bool data_too_big_ = false;
  std::string queue_id_;
  std::string last_reply_;
};

}  // namespace tern::smtp
