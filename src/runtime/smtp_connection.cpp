#include "runtime/smtp_connection.hpp"

#include <spdlog/spdlog.h>

#include "base/strings.hpp"
#include "runtime/blocking_pool.hpp"
#include "runtime/inbound_policy.hpp"

namespace tern::runtime {
namespace asio = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;

namespace {

std::string peer_ip(const asio::ip::tcp::socket& s) {
  boost::system::error_code ec;
  auto ep = s.remote_endpoint(ec);
  if (ec) return "unknown";
  auto a = ep.address();
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).to_string();
  return a.to_string();
}

// Awaits the group commit: the log's committer thread completes it, and the
// coroutine resumes on its own strand.
asio::awaitable<Result<void>> commit_through_log(MessageIntake& intake) {
  co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(Result<void>)>(
      [&intake](auto handler) {
        auto executor = asio::get_associated_executor(handler);
        intake.commit_async([handler = std::move(handler), executor](Result<void> r) mutable {
          asio::post(executor, [handler = std::move(handler), r = std::move(r)]() mutable { handler(std::move(r)); });
        });
      },
      asio::use_awaitable);
}

// The protocol trace never shows AUTH payloads: "AUTH PLAIN <base64>"
// becomes "AUTH PLAIN ***".
std::string redact_auth(std::string_view chunk) {
  std::string out;
  while (!chunk.empty()) {
    auto nl = chunk.find('\n');
    std::string_view line = chunk.substr(0, nl == std::string_view::npos ? chunk.size() : nl + 1);
    chunk.remove_prefix(line.size());
    if (istarts_with(line, "AUTH ")) {
      auto sp = line.find(' ', 5);
      out += std::string(line.substr(0, sp == std::string_view::npos ? line.size() : sp));
      if (sp != std::string_view::npos) out += " ***\r\n";
    } else {
      out += line;
    }
  }
  return out;
}

}  // namespace

// Releases a per-IP connection slot when the session ends, however it ends.
struct ConnectionSlot {
  abuse::ConnectionCounter* counter = nullptr;
  std::string key;
  ~ConnectionSlot() {
    if (counter) counter->release(key);
  }
};

// Writes a final reply on the plain socket and lets the caller close.
asio::awaitable<void> say_and_close(Connection& conn, const std::string& text) {
  co_await asio::async_write(conn.socket, asio::buffer(text), asio::as_tuple(asio::use_awaitable));
}

asio::awaitable<void> serve_smtp(std::shared_ptr<Connection> conn, ServerContext& ctx, ListenerKind kind,
                                 bool listener_checks) {
  auto generation = ctx.generation();
  const Config& cfg = *generation->config;
  smtp::SessionSettings settings = generation->session;
  settings.require_auth = kind != ListenerKind::smtp;
  const std::string ip = peer_ip(conn->socket);
  const std::uint64_t sid = conn->id;
  // Inbound policy: for unauthenticated clients of listeners with checks,
  // unless they are our own (trusted_networks).
  const bool checks = listener_checks && !abuse::in_trusted_network(cfg, ip);
  abuse::ClientPolicy policy(&ctx.abuse(), generation->config, ip, checks);
  IntakeContext intake_ctx = ctx.intake_context(*generation);
  intake_ctx.policy = &policy;
  MessageIntake intake(std::move(intake_ctx));
  spdlog::info("session={} event=connect client={}{}", sid, ip,
               kind == ListenerKind::smtp ? "" : kind == ListenerKind::submission ? " listener=submission"
                                                                                   : " listener=submissions");
  ConnectionSlot slot;
  inbound::ClientFacts facts;
  const auto client_ip = IpAddress::parse(ip);
  if (checks && client_ip) {
    // [limits]: how many at once, and how fast, from one address (421 4.7.0,
    // RFC 5321 §3.8: the server may close with 421 before the greeting).
    const auto& l = cfg.limits;
    if (!ctx.abuse().ip_connections.try_acquire(ip, l.connections_per_ip)) {
      spdlog::warn("session={} event=rate_limited what=connections_per_ip client={} limit={}", sid, ip,
                   l.connections_per_ip);
      std::string refusal = fmt::format("421 4.7.0 {} Error: too many connections from your address\r\n", cfg.hostname);
      co_await say_and_close(*conn, refusal);
      co_return;
    }
    slot.counter = &ctx.abuse().ip_connections;  // not a temporary: its destructor releases
    slot.key = ip;
    if (!ctx.abuse().ip_connections_rate.try_acquire(ip, abuse::RateLimit{l.connection_rate_per_ip, std::chrono::seconds(60)},
                                                     abuse::Clock::now())) {
      spdlog::warn("session={} event=rate_limited what=connection_rate_per_ip client={} limit={}", sid, ip,
                   l.connection_rate_per_ip);
      std::string refusal = fmt::format(
          "421 4.7.0 {} Error: too many connections from your address lately, try again later\r\n", cfg.hostname);
      co_await say_and_close(*conn, refusal);
      co_return;
    }
    facts = co_await learn_client(ctx, cfg, *client_ip);
    if (!facts.dnsbl.empty()) {
      spdlog::warn("session={} event=dnsbl_listed client={} zone={} answer={} action={}", sid, ip,
                   facts.dnsbl.front().zone, facts.dnsbl.front().answer, cfg.checks.dnsbl_action);
      if (cfg.checks.dnsbl_action == "reject")
        policy.block(smtp::Reply{554, "5.7.1", fmt::format("Service unavailable; client [{}] blocked using {}", ip,
                                                           facts.dnsbl.front().zone)});
    }
    if (facts.iprev)
      spdlog::info("session={} event=iprev client={} result={} name={}", sid, ip, facts.iprev->result,
                   facts.iprev->name.empty() ? "-" : facts.iprev->name);
    if (cfg.checks.greet_pause > 0 && kind != ListenerKind::submissions) {
      // The pregreet test (postscreen): an SMTP client must wait for the
      // greeting (RFC 5321 §3.1); bots that talk first are dropped.
      std::array<char, 512> early{};
      asio::steady_timer pause(co_await asio::this_coro::executor);
      pause.expires_after(std::chrono::seconds(cfg.checks.greet_pause));
      auto r = co_await (conn->socket.async_read_some(asio::buffer(early), asio::as_tuple(asio::use_awaitable)) ||
                         pause.async_wait(asio::as_tuple(asio::use_awaitable)));
      if (r.index() == 0) {
        auto [ec, n] = std::get<0>(r);
        if (!ec && n > 0)
          spdlog::warn("session={} event=pregreet client={} bytes={} text=\"{}\"", sid, ip, n,
                       log_escape(std::string_view(early.data(), n), 60));
        std::string refusal = fmt::format("554 5.5.1 {} Error: you talked before the greeting\r\n", cfg.hostname);
        if (!ec) co_await say_and_close(*conn, refusal);
        co_return;
      }
    }
  }

  // The socket, or TLS over it after STARTTLS (or from the start: submissions).
  std::unique_ptr<asio::ssl::stream<asio::ip::tcp::socket&>> tls;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  bool implicit_tls = kind == ListenerKind::submissions;
  if (implicit_tls) {
    if (!generation->tls) {
      spdlog::error("session={} event=tls_unavailable listener=submissions", sid);
      co_return;
    }
    tls = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket&>>(conn->socket, *generation->tls);
    timer.expires_after(std::chrono::seconds(settings.limits.command_timeout));
    auto hs = co_await (tls->async_handshake(asio::ssl::stream_base::server, asio::as_tuple(asio::use_awaitable)) ||
                        timer.async_wait(asio::as_tuple(asio::use_awaitable)));
    if (hs.index() == 1 || std::get<0>(std::get<0>(hs))) {
      spdlog::info("session={} event=tls_failed client={}", sid, ip);
      co_return;
    }
  }
  smtp::ServerSession session(settings, intake, ip);
  if (implicit_tls) session.assume_tls();

  auto send = [&]() -> asio::awaitable<bool> {
    if (session.output().empty()) co_return true;
    if (spdlog::should_log(spdlog::level::debug))
      spdlog::debug("session={} event=reply text=\"{}\"", sid, log_escape(session.output(), 400));
    auto [ec, n] = tls ? co_await asio::async_write(*tls, asio::buffer(session.output()),
                                                    asio::as_tuple(asio::use_awaitable))
                       : co_await asio::async_write(conn->socket, asio::buffer(session.output()),
                                                    asio::as_tuple(asio::use_awaitable));
    session.clear_output();
    co_return !ec;
  };

  session.start();
  bool connected = co_await send();
  std::vector<char> buf(16384);
  bool shutdown_seen = false;
  std::size_t messages = 0;

  while (connected && !session.closing()) {
    if (conn->shutdown_requested && !shutdown_seen) {
      shutdown_seen = true;
      session.on_shutdown();
      connected = co_await send();
      if (session.closing()) break;
    }
    unsigned seconds = session.in_data() ? settings.limits.data_timeout : settings.limits.command_timeout;
    timer.expires_after(std::chrono::seconds(seconds));
    auto result = tls ? co_await (tls->async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable)) ||
                                  timer.async_wait(asio::as_tuple(asio::use_awaitable)))
                      : co_await (conn->socket.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable)) ||
                                  timer.async_wait(asio::as_tuple(asio::use_awaitable)));
    if (result.index() == 1) {
      // RFC 5321 §4.5.3.2: the peer was silent too long.
      spdlog::info("session={} event=timeout state={}", sid, session.in_data() ? "data" : "command");
      session.on_timeout();
      co_await send();
      break;
    }
    auto [ec, n] = std::get<0>(result);
    if (ec) {
      if (ec == asio::error::operation_aborted && conn->shutdown_requested) continue;
      break;  // the peer went away; an unfinished message is discarded below
    }
    if (spdlog::should_log(spdlog::level::debug))
      spdlog::debug("session={} event=input text=\"{}\"", sid,
                    session.in_auth_exchange() ? std::string("*** (AUTH response)")
                                               : log_escape(redact_auth(std::string_view(buf.data(), n)), 400));
    session.feed(std::string_view(buf.data(), n));
    while (connected) {
      connected = co_await send();
      if (session.wants_tls() && connected) {
        // RFC 3207: the handshake starts right after our 220.
        tls = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket&>>(conn->socket, *generation->tls);
        timer.expires_after(std::chrono::seconds(settings.limits.command_timeout));
        auto hs = co_await (tls->async_handshake(asio::ssl::stream_base::server, asio::as_tuple(asio::use_awaitable)) ||
                            timer.async_wait(asio::as_tuple(asio::use_awaitable)));
        if (hs.index() == 1 || std::get<0>(std::get<0>(hs))) {
          spdlog::info("session={} event=tls_failed client={}", sid, ip);
          session.on_tls_failed();
          connected = false;
          break;
        }
        session.on_tls_started();
        spdlog::info("session={} event=tls version={} cipher={}", sid, SSL_get_version(tls->native_handle()),
                     SSL_get_cipher_name(tls->native_handle()));
        break;
      }
      if (session.wants_auth_check()) {
        // argon2id takes real time and memory: never on the I/O thread.
        auto creds = std::make_shared<const smtp::SaslCredentials>(session.credentials());
        if (ctx.auth_throttle().blocked(ip, creds->username)) {
          spdlog::warn("session={} event=auth_blocked client={} user=\"{}\"", sid, ip, log_escape(creds->username, 128));
          session.on_auth_throttled();
          continue;
        }
        // Named, and capturing only trivially destructible things: g++ 12
        // destroys lambda temporaries in co_await expressions twice.
        auto check = [&intake, c = creds.get()] { return intake.authenticate(c->username, c->password); };
        bool ok = co_await run_blocking(ctx.blocking_pool(), check);
        spdlog::info("session={} event=auth user=\"{}\" result={}", sid, log_escape(creds->username, 128),
                     ok ? "ok" : "failed");
        if (!ok) {
          ctx.auth_throttle().failed(ip, creds->username);
          // A pause before 535 slows password guessing (RFC 4954 §4 allows it).
          timer.expires_after(std::chrono::seconds(1));
          co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        session.on_auth_result(ok);
        continue;
      }
      if (!session.awaiting_commit()) break;
      if (checks && client_ip && session.envelope().auth_user.empty()) {
        // End of DATA: SPF, DKIM, DMARC, sender-domain lists (RFC 7489 §6.6:
        // a reject is answered here, before anything is stored).
        auto text = intake.message_in_memory();
        if (text) {
          inbound::CheckRequest rq;
          rq.client_ip = *client_ip;
          rq.helo = session.envelope().helo;
          rq.mail_from = session.envelope().mail_from.to_string();
          rq.message = std::make_shared<const std::string>(*text);
          rq.client = facts;
          rq.now_unix = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count();
          inbound::CheckVerdict v = co_await judge_message(ctx, cfg, std::move(rq));
          spdlog::info("session={} queue_id={} event=checked {} action={}", sid, session.queue_id(),
                       v.summary.empty() ? "none" : v.summary,
                       v.action == inbound::CheckVerdict::Action::reject ? "reject"
                       : v.action == inbound::CheckVerdict::Action::junk ? "junk"
                                                                         : "deliver");
          if (!v.dmarc_report_line.empty()) ctx.record_dmarc(cfg.data_dir, std::move(v.dmarc_report_line));
          if (v.action == inbound::CheckVerdict::Action::reject && v.reply) {
            intake.discard_message();
            spdlog::info("session={} queue_id={} event=rejected from=<{}> reply=\"{} {}\"", sid, session.queue_id(),
                         log_escape(session.envelope().mail_from.to_string()), v.reply->code,
                         log_escape(v.reply->lines.front(), 200));
            session.on_commit_refused(*v.reply);
            continue;
          }
          intake.amend_message(v.header_fields, authserv_id(cfg),
                               v.action == inbound::CheckVerdict::Action::junk);
        } else {
          spdlog::info("session={} queue_id={} event=checks_skipped reason=message_too_large_for_memory", sid,
                       session.queue_id());
        }
      }
      const bool blocking = intake.commit_blocks();
      Result<void> r = blocking
                           ? co_await run_blocking(ctx.blocking_pool(), [&intake] { return intake.commit(); })
                           : co_await commit_through_log(intake);
      const auto& env = session.envelope();
      if (r) {
        ++messages;
        policy.on_accepted();
        spdlog::info("session={} queue_id={} event=accepted from=<{}> nrcpt={} path={}", sid, session.queue_id(),
                     log_escape(env.mail_from.to_string()), env.recipients.size(),
                     !blocking ? "log" : intake.delivered_directly() ? "direct" : "spool");
        if (blocking && intake.delivered_directly())
          spdlog::info("queue_id={} event=delivered to=<{}> mailbox={} attempts=1", session.queue_id(),
                       log_escape(env.recipients.front().to_string()), intake.mailboxes().front());
      } else {
        spdlog::error("session={} queue_id={} event=store_failed error=\"{}\"", sid, session.queue_id(),
                      r.error().detail);
      }
      session.on_commit(r);
    }
  }
  if (session.in_data()) intake.discard_message();
  boost::system::error_code ignored;
  tls.reset();
  conn->socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  conn->socket.close(ignored);
  spdlog::info("session={} event=disconnect client={} messages={}", sid, ip, messages);
}

}  // namespace tern::runtime
