#include "protocol/smtp/server_session.hpp"

#include <charconv>
#include <fmt/format.h>

#include "base/strings.hpp"
#include "formats/received_header.hpp"

namespace tern::smtp {
namespace {

const Reply ok{250, "2.0.0", "Ok"};
const Reply bad_sequence_helo{503, "5.5.1", "Error: send HELO/EHLO first"};
const Reply line_too_long{500, "5.5.2", "Error: line too long"};

// The addresses of the From: field (RFC 5322 §3.6.2) in a header section:
// unfolded, "<addr>" where angle brackets are used, else the bare words.
std::vector<std::string> from_header_addresses(std::string_view headers) {
  std::vector<std::string> out;
  std::string value;
  bool in_from = false;
  while (!headers.empty()) {
    auto nl = headers.find("\r\n");
    std::string_view line = headers.substr(0, nl);
    headers = nl == std::string_view::npos ? std::string_view{} : headers.substr(nl + 2);
    if (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
      if (in_from) value += std::string(line);
      continue;
    }
    if (in_from) break;
    if (istarts_with(line, "From:")) {
      in_from = true;
      value = std::string(line.substr(5));
    }
  }
  if (!in_from) return out;
  std::size_t pos = 0;
  while ((pos = value.find('<', pos)) != std::string::npos) {
    auto close = value.find('>', pos);
    if (close == std::string::npos) break;
    out.push_back(value.substr(pos + 1, close - pos - 1));
    pos = close + 1;
  }
  if (out.empty()) {
    for (std::size_t start = 0; start < value.size();) {
      auto comma = value.find(',', start);
      std::string part(trim(std::string_view(value).substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
      if (!part.empty()) out.push_back(part);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return out;
}

}  // namespace

ServerSession::ServerSession(const SessionSettings& settings, SessionServices& services, std::string client_ip)
    : settings_(settings),
      services_(services),
      decoder_(settings.limits.max_line_length, settings.limits.max_received_headers) {
  env_.client_ip = std::move(client_ip);
}

void ServerSession::start() {
  // RFC 5321 §4.3.1: the greeting carries our name; no enhanced code before EHLO.
  reply(Reply{220, "", fmt::format("{} ESMTP Tern", settings_.hostname)});
  state_ = State::command;
}

void ServerSession::reply(const Reply& r) {
  r.render(out_, esmtp_);
  last_reply_ = fmt::format("{} {}{}{}", r.code, r.enhanced, r.enhanced.empty() ? "" : " ", r.lines.front());
}

void ServerSession::close_with(const Reply& r) {
  reply(r);
  state_ = State::closed;
  in_.clear();
  in_pos_ = 0;
}

void ServerSession::reset_transaction() {
  MailAddress none;
  env_.mail_from = none;
  env_.recipients.clear();
  env_.smtputf8 = env_.body_8bit = false;
  env_.declared_size.reset();
  mail_seen_ = false;
}

void ServerSession::feed(std::string_view bytes) {
  if (state_ == State::closed) return;
  in_.append(bytes);
  process();
}

void ServerSession::process() {
  while (state_ == State::command || state_ == State::data || state_ == State::auth_response) {
    if (state_ == State::data) {
      process_data();
      if (state_ == State::data) break;  // need more bytes
      continue;
    }
    std::string_view pending(in_.data() + in_pos_, in_.size() - in_pos_);
    auto nl = pending.find('\n');
    if (nl == std::string_view::npos) {
      // RFC 5321 §4.5.3.1.4: a command line is at most 512 octets. Do not buffer
      // an endless line: drop it and answer once its end arrives.
      if (pending.size() > settings_.max_command_line) {
        discarding_long_line_ = true;
        in_pos_ = in_.size();
      }
      break;
    }
    std::string_view line = pending.substr(0, nl);
    in_pos_ += nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (discarding_long_line_ || line.size() + 2 > settings_.max_command_line) {
      discarding_long_line_ = false;
      reply(line_too_long);
      if (++consecutive_errors_ >= settings_.limits.max_errors)
        close_with(Reply{421, "4.7.0", fmt::format("{} Error: too many errors", settings_.hostname)});
      continue;
    }
    if (state_ == State::auth_response) on_auth_response(line);
    else process_command_line(line);
  }
  // Keep the buffer small: drop what has been consumed.
  if (in_pos_ > 0 && (in_pos_ == in_.size() || in_pos_ > 65536)) {
    in_.erase(0, in_pos_);
    in_pos_ = 0;
  }
}

void ServerSession::process_command_line(std::string_view line) {
  ParsedCommand pc = parse_command(line);
  const Command& c = pc.command;
  std::size_t out_before = out_.size();
  switch (c.verb) {
    case Verb::helo: on_helo(c, false); break;
    case Verb::ehlo: on_helo(c, true); break;
    case Verb::mail: on_mail(pc); break;
    case Verb::rcpt: on_rcpt(pc); break;
    case Verb::data: on_data(c); break;
    case Verb::rset: on_rset(c); break;
    case Verb::noop: reply(ok); break;
    case Verb::quit:
      close_with(Reply{221, "2.0.0", fmt::format("{} Bye", settings_.hostname)});
      return;
    case Verb::vrfy: on_vrfy(c); break;
    case Verb::expn:
      // Mailing-list expansion discloses addresses; like most servers we refuse.
      reply(Reply{502, "5.5.1", "Error: EXPN not available"});
      break;
    case Verb::help: on_help(c); break;
    case Verb::starttls: on_starttls(c); break;
    case Verb::auth: on_auth(c); break;
    case Verb::bdat:
      reply(Reply{502, "5.5.1", "Error: command not implemented"});
      break;
    case Verb::unknown:
      reply(Reply{500, "5.5.2", "Error: command not recognized"});
      break;
  }
  if (state_ == State::closed) return;
  // Error budget: too many failed commands in a row ends the session.
  bool failed = out_.size() > out_before && (out_[out_before] == '4' || out_[out_before] == '5');
  if (exempt_from_error_budget_) {
    exempt_from_error_budget_ = false;
  } else if (failed) {
    if (++consecutive_errors_ >= settings_.limits.max_errors)
      close_with(Reply{421, "4.7.0", fmt::format("{} Error: too many errors", settings_.hostname)});
  } else {
    consecutive_errors_ = 0;
  }
}

void ServerSession::on_helo(const Command& c, bool extended) {
  std::string_view name = c.argument;
  if (name.empty()) {
    reply(Reply{501, "5.5.4", extended ? "Syntax: EHLO hostname" : "Syntax: HELO hostname"});
    return;
  }
  // RFC 5321 §4.1.4: EHLO/HELO resets any transaction in progress.
  reset_transaction();
  helo_seen_ = true;
  esmtp_ = extended;
  env_.esmtp = extended;
  env_.helo = std::string(name.substr(0, name.find(' ')));
  if (!extended) {
    reply(Reply{250, "", settings_.hostname});
    return;
  }
  std::vector<std::string> lines{
      fmt::format("{} Hello {}", settings_.hostname, log_escape(env_.helo, 64)),
      "PIPELINING",
      fmt::format("SIZE {}", settings_.limits.max_message_size),
      "8BITMIME",
      "SMTPUTF8",
      "ENHANCEDSTATUSCODES",
      "HELP",
  };
  if (settings_.tls_available && !tls_active_) lines.push_back("STARTTLS");
  // RFC 4954 §4: never offer a plain-text password exchange in clear.
  if (settings_.auth_available && (tls_active_ || settings_.auth_without_tls)) lines.push_back("AUTH PLAIN LOGIN");
  // RFC 2034 §3: the greeting and the replies to HELO/EHLO carry no enhanced code.
  Reply r{250, "", std::move(lines)};
  reply(r);
}

void ServerSession::on_mail(const ParsedCommand& pc) {
  if (!helo_seen_) return reply(bad_sequence_helo);
  if (mail_seen_) return reply(Reply{503, "5.5.1", "Error: nested MAIL command"});
  if (settings_.require_auth && auth_user_.empty())
    return reply(Reply{530, "5.7.0", "Authentication required"});
  if (pc.path_keyword_missing) return reply(Reply{501, "5.5.4", "Syntax: MAIL FROM:<address>"});
  std::string why;
  auto path = parse_path(pc.command.argument, PathKind::reverse_path, &why);
  if (!path) return reply(Reply{501, "5.1.7", fmt::format("Bad sender address syntax: {}", why)});
  if (!path->params.empty() && !esmtp_)
    return reply(Reply{555, "5.5.4", "Parameters need EHLO"});  // RFC 5321 §4.1.1.11

  Envelope next = env_;
  for (const auto& p : path->params) {
    if (p.keyword == "SIZE") {
      // RFC 1870 §6: refuse at MAIL if the declared size is over our limit.
      std::uint64_t n = 0;
      auto [end, ec] = std::from_chars(p.value.data(), p.value.data() + p.value.size(), n);
      if (!p.has_value || ec != std::errc{} || end != p.value.data() + p.value.size())
        return reply(Reply{501, "5.5.4", "Bad SIZE parameter"});
      if (n > settings_.limits.max_message_size)
        return reply(Reply{552, "5.3.4", "Message size exceeds fixed limit"});
      next.declared_size = n;
    } else if (p.keyword == "BODY") {
      if (iequals(p.value, "8BITMIME")) next.body_8bit = true;
      else if (!iequals(p.value, "7BIT"))
        return reply(Reply{555, "5.5.4", "Unsupported BODY parameter"});  // BINARYMIME needs CHUNKING
    } else if (p.keyword == "SMTPUTF8" && !p.has_value) {
      next.smtputf8 = true;
    } else {
      return reply(Reply{555, "5.5.4", fmt::format("Unsupported parameter {}", log_escape(p.keyword, 32))});
    }
  }
  // RFC 6531 §3.4: a non-ASCII address needs the SMTPUTF8 parameter.
  if (path->address.needs_smtputf8() && !next.smtputf8)
    return reply(Reply{553, "5.6.7", "Non-ASCII sender address needs SMTPUTF8"});
  if (!auth_user_.empty() && !services_.sender_allowed(auth_user_, path->address))
    return reply(Reply{553, "5.7.1", fmt::format("<{}>: Sender address rejected: not owned by user {}",
                                                  log_escape(path->address.to_string(), 256), log_escape(auth_user_, 256))});
  next.mail_from = path->address;
  next.auth_user = auth_user_;
  if (auto refused = services_.check_sender(next)) {
    // Rate limits and blocklists are not the client's syntax errors.
    exempt_from_error_budget_ = true;
    return reply(*refused);
  }
  env_ = std::move(next);
  mail_seen_ = true;
  reply(Reply{250, "2.1.0", "Ok"});
}

void ServerSession::on_rcpt(const ParsedCommand& pc) {
  if (!mail_seen_) return reply(Reply{503, "5.5.1", "Error: need MAIL command"});
  if (pc.path_keyword_missing) return reply(Reply{501, "5.5.4", "Syntax: RCPT TO:<address>"});
  std::string why;
  auto path = parse_path(pc.command.argument, PathKind::forward_path, &why);
  if (!path) return reply(Reply{501, "5.1.3", fmt::format("Bad recipient address syntax: {}", why)});
  if (!path->params.empty()) {
    if (!esmtp_) return reply(Reply{555, "5.5.4", "Parameters need EHLO"});
    return reply(Reply{555, "5.5.4", fmt::format("Unsupported parameter {}", log_escape(path->params[0].keyword, 32))});
  }
  if (path->address.needs_smtputf8() && !env_.smtputf8)
    return reply(Reply{553, "5.6.7", "Non-ASCII recipient address needs SMTPUTF8"});
  // RFC 5321 §4.5.3.1.8: when over the limit, 452 and the client sends the rest later.
  if (env_.recipients.size() >= settings_.limits.max_recipients) {
    // Not a client error: RFC 5321 §4.5.3.1.10 says to send the rest later,
    // so it must not spend the error budget of a pipelining client.
    exempt_from_error_budget_ = true;
    return reply(Reply{452, "4.5.3", "Error: too many recipients"});
  }
  switch (services_.check_recipient(env_, path->address)) {
    case RecipientVerdict::accept:
      env_.recipients.push_back(path->address);
      return reply(Reply{250, "2.1.5", "Ok"});
    case RecipientVerdict::unknown_user:
      return reply(Reply{550, "5.1.1", fmt::format("<{}>: Recipient address rejected: User unknown",
                                                    log_escape(path->address.to_string(), 256))});
    case RecipientVerdict::relay_denied:
      return reply(Reply{554, "5.7.1", fmt::format("<{}>: Relay access denied",
                                                    log_escape(path->address.to_string(), 256))});
    case RecipientVerdict::try_later:
      return reply(Reply{451, "4.3.0", "Error: recipient lookup failed, try again later"});
    case RecipientVerdict::rate_limited:
      exempt_from_error_budget_ = true;
      return reply(Reply{451, "4.7.1", "Error: too many recipients from you lately, try again later"});
    case RecipientVerdict::greylisted:
      exempt_from_error_budget_ = true;
      // RFC 6647 §2.1: a temporary failure a real MTA retries.
      return reply(Reply{451, "4.7.1", fmt::format("<{}>: Recipient address rejected: Greylisted, try again later",
                                                    log_escape(path->address.to_string(), 256))});
  }
}

void ServerSession::on_data(const Command& c) {
  if (!c.argument.empty()) return reply(Reply{501, "5.5.4", "Syntax: DATA"});
  if (!mail_seen_) return reply(Reply{503, "5.5.1", "Error: need MAIL command"});
  // RFC 2920 §3.1: with no valid recipients the answer to DATA is 554 (503 is
  // also seen; 554 tells a pipelining client that the whole transaction failed).
  if (env_.recipients.empty()) return reply(Reply{554, "5.5.1", "Error: no valid recipients"});
  auto id = services_.open_message(env_);
  if (!id) return reply(Reply{451, "4.3.0", id.error().client_text});
  queue_id_ = *id;
  ReceivedInfo info;
  info.helo = env_.helo;
  // RFC 6409 §8: an MSA may leave the submitter's address out.
  if (auth_user_.empty() || !settings_.limits.hide_authenticated_client) info.client_ip = env_.client_ip;
  info.by_host = settings_.hostname;
  // RFC 3848 / RFC 6531 protocol names; "S" for TLS.
  info.protocol = std::string(env_.smtputf8 ? "UTF8SMTP" : (env_.esmtp ? "ESMTP" : "SMTP")) + (tls_active_ ? "S" : "") +
                  (auth_user_.empty() ? "" : "A");
  info.queue_id = queue_id_;
  if (env_.recipients.size() == 1) info.for_recipient = env_.recipients.front().to_string();
  services_.write_message(build_received_header(info));
  decoder_ = DataDecoder(settings_.limits.max_line_length, settings_.limits.max_received_headers);
  header_copy_.clear();
  header_done_for_copy_ = false;
  data_size_ = 0;
  data_too_big_ = false;
  state_ = State::data;
  reply(Reply{354, "", "End data with <CR><LF>.<CR><LF>"});
}

void ServerSession::process_data() {
  std::string_view pending(in_.data() + in_pos_, in_.size() - in_pos_);
  data_scratch_.clear();
  std::size_t used = decoder_.feed(pending, data_scratch_);
  in_pos_ += used;
  data_size_ += data_scratch_.size();
  // RFC 1870 §6: over the limit we keep reading to the end, store nothing, then 552.
  if (data_size_ > settings_.limits.max_message_size) data_too_big_ = true;
  std::size_t header_end = decoder_.header_end_in_last_feed();
  if (!auth_user_.empty() && settings_.check_from_header && !header_done_for_copy_) {
    std::size_t take = header_end == std::string::npos ? data_scratch_.size() : header_end;
    if (header_copy_.size() + take <= 65536) header_copy_.append(data_scratch_, 0, take);
    if (header_end != std::string::npos) header_done_for_copy_ = true;
  }
  if (!auth_user_.empty() && header_end != std::string::npos && !data_too_big_) {
    // RFC 6409 §8.1, §8.3: as MSA, complete a submission that lacks Date: or
    // Message-ID:, at the end of its header section.
    std::string added;
    if (!decoder_.has_date()) added += fmt::format("Date: {}\r\n", rfc5322_date(std::chrono::system_clock::now()));
    if (!decoder_.has_message_id()) added += fmt::format("Message-ID: <{}@{}>\r\n", queue_id_, settings_.hostname);
    if (!added.empty()) data_scratch_.insert(header_end, added);
  }
  if (!data_too_big_ && !data_scratch_.empty()) services_.write_message(data_scratch_);
  if (decoder_.done()) finish_data();
}

void ServerSession::finish_data() {
  auto reject = [&](const Reply& r) {
    services_.discard_message();
    queue_id_.clear();
    reset_transaction();
    state_ = State::command;
    reply(r);
    if (shutdown_pending_) on_shutdown();
  };
  if (data_too_big_) return reject(Reply{552, "5.3.4", "Error: message size exceeds fixed limit"});
  if (decoder_.saw_bare_newline())
    return reject(Reply{550, "5.6.0", "Error: bare CR or LF in message text (RFC 5321 §2.3.8); not delivered"});
  if (decoder_.line_too_long())
    return reject(Reply{552, "5.3.4", fmt::format("Error: message line longer than {} octets (RFC 5321 §4.5.3.1.6)",
                                                  settings_.limits.max_line_length)});
  if (decoder_.too_many_hops())
    return reject(Reply{554, "5.4.6", "Error: too many hops (Received: headers); mail loop?"});
  if (!auth_user_.empty() && settings_.check_from_header) {
    for (const auto& from : from_header_addresses(header_copy_)) {
      auto addr = parse_mailbox(from);
      if (!addr || !services_.sender_allowed(auth_user_, *addr))
        return reject(Reply{553, "5.7.1", fmt::format("From: <{}> is not owned by user {}", log_escape(from, 256),
                                                      log_escape(auth_user_, 256))});
    }
  }
  state_ = State::awaiting_commit;
}

void ServerSession::on_commit(const Result<void>& result) {
  if (state_ != State::awaiting_commit) return;
  state_ = State::command;
  if (result) {
    reply(Reply{250, "2.0.0", fmt::format("Ok: queued as {}", queue_id_)});
  } else {
    // Nothing durable: the client keeps the message and retries (RFC 5321 §4.2.5).
    reply(Reply{451, "4.3.0", result.error().client_text});
  }
  reset_transaction();
  if (shutdown_pending_) {
    on_shutdown();
    return;
  }
  process();
}

void ServerSession::on_commit_refused(const Reply& refusal) {
  if (state_ != State::awaiting_commit) return;
  state_ = State::command;
  reply(refusal);
  reset_transaction();
  if (shutdown_pending_) {
    on_shutdown();
    return;
  }
  process();
}

void ServerSession::on_rset(const Command& c) {
  if (!c.argument.empty()) return reply(Reply{501, "5.5.4", "Syntax: RSET"});
  reset_transaction();
  reply(ok);
}

void ServerSession::on_vrfy(const Command& c) {
  if (c.argument.empty()) return reply(Reply{501, "5.5.4", "Syntax: VRFY address"});
  // RFC 5321 §3.5.3: 252 when we will not say whether the user exists.
  reply(Reply{252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery"});
}

void ServerSession::on_help(const Command&) {
  reply(Reply{214, "2.0.0",
              std::vector<std::string>{"Commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY EXPN HELP",
                                       "See RFC 5321; Tern ESMTP"}});
}

void ServerSession::on_starttls(const Command& c) {
  if (!settings_.tls_available) return reply(Reply{502, "5.5.1", "Error: command not implemented"});
  if (tls_active_) return reply(Reply{503, "5.5.1", "Error: TLS already active"});
  if (!c.argument.empty()) return reply(Reply{501, "5.5.4", "Syntax: STARTTLS"});
  if (mail_seen_) return reply(Reply{503, "5.5.1", "Error: STARTTLS in the middle of a transaction"});
  reply(Reply{220, "2.0.0", "Ready to start TLS"});
  // RFC 3207 §4.2 and CVE-2011-0411: whatever the client pipelined after
  // STARTTLS was sent in clear and must not be read as if it came over TLS.
  in_.clear();
  in_pos_ = 0;
  state_ = State::awaiting_tls;
}

void ServerSession::on_auth(const Command& c) {
  if (!settings_.auth_available) return reply(Reply{502, "5.5.1", "Error: command not implemented"});
  if (!helo_seen_ || !esmtp_) return reply(Reply{503, "5.5.1", "Error: send EHLO first"});
  if (!auth_user_.empty()) return reply(Reply{503, "5.5.1", "Error: already authenticated"});
  if (mail_seen_) return reply(Reply{503, "5.5.1", "Error: AUTH not permitted during a mail transaction"});
  if (!tls_active_ && !settings_.auth_without_tls)
    return reply(Reply{538, "5.7.11", "Encryption required for requested authentication mechanism"});
  std::string_view arg = c.argument;
  auto sp = arg.find(' ');
  std::string_view mechanism = arg.substr(0, sp);
  std::string_view initial = sp == std::string_view::npos ? std::string_view{} : trim(arg.substr(sp + 1));
  credentials_ = {};
  if (iequals(mechanism, "PLAIN")) {
    auth_step_ = AuthStep::plain;
    if (initial.empty()) {
      state_ = State::auth_response;
      return reply(Reply{334, "", ""});  // RFC 4954 §4: an empty challenge
    }
    // "=" is an empty initial response (RFC 4954 §4), which PLAIN cannot use.
    return on_auth_response(initial);
  }
  if (iequals(mechanism, "LOGIN")) {
    if (initial.empty()) {
      auth_step_ = AuthStep::login_user;
      state_ = State::auth_response;
      return reply(Reply{334, "", "VXNlcm5hbWU6"});  // "Username:"
    }
    auth_step_ = AuthStep::login_user;
    return on_auth_response(initial);
  }
  reply(Reply{504, "5.5.4", "Unrecognized authentication type"});
}

void ServerSession::auth_error(SaslError e) {
  state_ = State::command;
  credentials_ = {};
  switch (e) {
    case SaslError::cancelled: return reply(Reply{501, "5.0.0", "Authentication cancelled"});
    case SaslError::bad_base64: return reply(Reply{501, "5.5.2", "Cannot decode response (invalid base64)"});
    case SaslError::malformed: return reply(Reply{501, "5.5.2", "Malformed authentication response"});
  }
}

void ServerSession::on_auth_response(std::string_view line) {
  switch (auth_step_) {
    case AuthStep::plain: {
      auto r = decode_plain(line);
      if (r.error) return auth_error(*r.error);
      credentials_ = std::move(*r.credentials);
      state_ = State::awaiting_auth;
      return;
    }
    case AuthStep::login_user: {
      auto r = decode_login_step(line);
      if (r.error) return auth_error(*r.error);
      credentials_.username = std::move(*r.value);
      auth_step_ = AuthStep::login_password;
      state_ = State::auth_response;
      return reply(Reply{334, "", "UGFzc3dvcmQ6"});  // "Password:"
    }
    case AuthStep::login_password: {
      auto r = decode_login_step(line);
      if (r.error) return auth_error(*r.error);
      credentials_.password = std::move(*r.value);
      state_ = State::awaiting_auth;
      return;
    }
  }
}

void ServerSession::on_auth_result(bool accepted) {
  if (state_ != State::awaiting_auth) return;
  state_ = State::command;
  std::string user = std::move(credentials_.username);
  credentials_ = {};  // the password does not outlive the check
  if (accepted) {
    auth_user_ = std::move(user);
    consecutive_errors_ = 0;
    reply(Reply{235, "2.7.0", "Authentication successful"});
  } else {
    reply(Reply{535, "5.7.8", "Authentication credentials invalid"});
    if (++consecutive_errors_ >= settings_.limits.max_errors)
      close_with(Reply{421, "4.7.0", fmt::format("{} Error: too many errors", settings_.hostname)});
  }
  if (state_ == State::command) process();
}

void ServerSession::on_auth_throttled() {
  if (state_ != State::awaiting_auth) return;
  credentials_ = {};
  close_with(Reply{421, "4.7.0", fmt::format("{} Error: too many failed logins, try again later", settings_.hostname)});
}

void ServerSession::on_tls_started() {
  if (state_ != State::awaiting_tls) return;
  // RFC 3207 §4.2: forget everything learnt before TLS; the client starts over
  // with EHLO.
  tls_active_ = true;
  auth_user_.clear();
  helo_seen_ = false;
  esmtp_ = false;
  env_.helo.clear();
  reset_transaction();
  state_ = State::command;
}

void ServerSession::on_tls_failed() {
  if (state_ != State::awaiting_tls) return;
  state_ = State::closed;  // no reply: the channel is in an unknown state
}

void ServerSession::on_timeout() {
  if (state_ == State::closed) return;
  if (state_ == State::data) services_.discard_message();
  close_with(Reply{421, "4.4.2", fmt::format("{} Error: timeout exceeded", settings_.hostname)});
}

void ServerSession::on_shutdown() {
  if (state_ == State::closed) return;
  if (in_data()) {
    shutdown_pending_ = true;  // let the message in flight finish first
    return;
  }
  close_with(Reply{421, "4.3.2", fmt::format("{} Service shutting down, closing channel", settings_.hostname)});
}

}  // namespace tern::smtp
