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

asio::awaitable<void> serve_smtp(std::shared_ptr<Connection> conn, ServerContext& ctx, ListenerKind kind,
                                 std::size_t listener_index) {
  auto generation = ctx.generation();
  const Config& cfg = *generation->config;
  // Listeners are fixed for the process's life; a reload keeps their order.
  const ListenerConfig& listener = cfg.listeners.at(listener_index);
  smtp::SessionSettings settings = generation->session;
  settings.require_auth = kind != ListenerKind::smtp;
  const std::string ip = peer_ip(conn->socket);
  const std::uint64_t sid = conn->id;
  // Inbound policy: for unauthenticated clients of listeners with checks,
  // unless they are our own (trusted_networks).
  const bool checks = listener.checks && !abuse::in_trusted_network(cfg, ip);
  abuse::ClientPolicy policy(&ctx.abuse(), listener.limits_config, listener.checks_config.greylisting, ip, checks);
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
    const bool may_pause = kind != ListenerKind::submissions;  // TLS comes first there
    if (!co_await screen_client(*conn, ctx, cfg, listener, sid, *client_ip, policy, slot, facts, may_pause))
      co_return;
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
        // RFC 7489 §6.6: a refusal is answered here, before anything is stored.
        if (!co_await judge_message_in_session(ctx, cfg, listener, sid, session, intake, *client_ip, facts)) continue;
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
