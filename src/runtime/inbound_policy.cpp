#include "runtime/inbound_policy.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <mutex>

#include "base/strings.hpp"
#include "services/durable_file.hpp"

namespace tern::runtime {
namespace asio = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;

namespace {

// A final reply on the plain socket; the caller then ends the connection.
asio::awaitable<void> say_and_close(Connection& conn, const std::string& text) {
  co_await asio::async_write(conn.socket, asio::buffer(text), asio::as_tuple(asio::use_awaitable));
}

}  // namespace

std::string authserv_id(const Config& config, const ChecksConfig& checks) {
  return checks.authserv_id.empty() ? config.hostname : checks.authserv_id;
}

asio::awaitable<inbound::ClientFacts> learn_client(ServerContext& ctx, const ChecksConfig& checks, IpAddress ip) {
  dns::Resolver* resolver = ctx.resolver();
  if (!resolver) co_return inbound::ClientFacts{};
  const std::vector<std::string> zones = checks.dnsbl;
  // Named, and capturing only trivially destructible things: g++ 12 destroys
  // lambda temporaries in co_await expressions twice (GCC PR 99576).
  auto initiate = [resolver, zones = &zones, ip](auto handler) {
        struct State {
          std::mutex mu;
          int left = 2;
          inbound::ClientFacts facts;
        };
        auto st = std::make_shared<State>();
        auto executor = asio::get_associated_executor(handler);
        auto shared_handler = std::make_shared<decltype(handler)>(std::move(handler));
        auto one_done = [st, executor, shared_handler] {
          {
            std::lock_guard lock(st->mu);
            if (--st->left != 0) return;
          }
          asio::post(executor, [st, shared_handler] { (*shared_handler)(std::move(st->facts)); });
        };
        abuse::check_dnsbl(*resolver, ip, *zones, [st, one_done](std::vector<abuse::DnsblHit> hits) {
          {
            std::lock_guard lock(st->mu);
            st->facts.dnsbl = std::move(hits);
          }
          one_done();
        });
        abuse::check_iprev(*resolver, ip, [st, one_done](abuse::IprevOutcome o) {
          {
            std::lock_guard lock(st->mu);
            st->facts.iprev = std::move(o);
          }
          one_done();
        });
      };
  co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(inbound::ClientFacts)>(
      initiate, asio::use_awaitable);
}

asio::awaitable<inbound::CheckVerdict> judge_message(ServerContext& ctx, const Config& config,
                                                     const ChecksConfig& checks, inbound::CheckRequest request) {
  dns::Resolver* resolver = ctx.resolver();
  if (!resolver) co_return inbound::CheckVerdict{};
  auto checker = std::make_shared<inbound::InboundChecker>(*resolver, ctx.public_suffix_list(), checks,
                                                           authserv_id(config, checks), config.hostname);
  // See learn_client: a named lambda with trivially destructible captures.
  auto initiate = [c = checker.get(), rq = &request](auto handler) {
    auto executor = asio::get_associated_executor(handler);
    auto shared_handler = std::make_shared<decltype(handler)>(std::move(handler));
    c->check(std::move(*rq), [executor, shared_handler](inbound::CheckVerdict v) {
      asio::post(executor, [shared_handler, v = std::move(v)]() mutable { (*shared_handler)(std::move(v)); });
    });
  };
  // `checker` (and the resolver) stay alive in this frame until the answer.
  co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(inbound::CheckVerdict)>(
      initiate, asio::use_awaitable);
}

asio::awaitable<bool> screen_client(Connection& conn, ServerContext& ctx, const Config& cfg,
                                    const ListenerConfig& listener, std::uint64_t sid, IpAddress ip,
                                    abuse::ClientPolicy& policy, ConnectionSlot& slot, inbound::ClientFacts& facts,
                                    bool may_pause) {
  const ChecksConfig& checks = listener.checks_config;
  const std::string addr = ip.to_string();
  // [limits]: how many at once, and how fast, from one address (RFC 5321
  // §3.8: a server may answer 421 instead of the greeting and close).
  const auto& l = listener.limits_config;
  if (!ctx.abuse().ip_connections.try_acquire(addr, l.connections_per_ip)) {
    spdlog::warn("session={} event=rate_limited what=connections_per_ip client={} limit={}", sid, addr,
                 l.connections_per_ip);
    std::string refusal = fmt::format("421 4.7.0 {} Error: too many connections from your address\r\n", cfg.hostname);
    co_await say_and_close(conn, refusal);
    co_return false;
  }
  slot.counter = &ctx.abuse().ip_connections;
  slot.key = addr;
  if (!ctx.abuse().ip_connections_rate.try_acquire(
          addr, abuse::RateLimit{l.connection_rate_per_ip, std::chrono::seconds(60)}, abuse::Clock::now())) {
    spdlog::warn("session={} event=rate_limited what=connection_rate_per_ip client={} limit={}", sid, addr,
                 l.connection_rate_per_ip);
    std::string refusal = fmt::format(
        "421 4.7.0 {} Error: too many connections from your address lately, try again later\r\n", cfg.hostname);
    co_await say_and_close(conn, refusal);
    co_return false;
  }

  facts = co_await learn_client(ctx, checks, ip);
  if (!facts.dnsbl.empty()) {
    const auto& hit = facts.dnsbl.front();
    spdlog::warn("session={} event=dnsbl_listed client={} zone={} answer={} action={}", sid, addr, hit.zone,
                 hit.answer, checks.dnsbl_action);
    if (checks.dnsbl_action == "reject")
      policy.block(smtp::Reply{554, "5.7.1",
                               fmt::format("Service unavailable; client [{}] blocked using {}", addr, hit.zone)});
  }
  if (facts.iprev)
    spdlog::info("session={} event=iprev client={} result={} name={}", sid, addr, facts.iprev->result,
                 facts.iprev->name.empty() ? "-" : facts.iprev->name);

  if (checks.greet_pause == 0 || !may_pause) co_return true;
  // The pregreet test (like postscreen's): an SMTP client waits for the
  // greeting (RFC 5321 §3.1); bots that talk first are dropped.
  std::array<char, 512> early{};
  asio::steady_timer pause(co_await asio::this_coro::executor);
  pause.expires_after(std::chrono::seconds(checks.greet_pause));
  auto r = co_await (conn.socket.async_read_some(asio::buffer(early), asio::as_tuple(asio::use_awaitable)) ||
                     pause.async_wait(asio::as_tuple(asio::use_awaitable)));
  if (r.index() == 1) co_return true;  // silent until the pause ended: a polite client
  auto [ec, n] = std::get<0>(r);
  if (ec) co_return false;  // gone already
  spdlog::warn("session={} event=pregreet client={} bytes={} text=\"{}\"", sid, addr, n,
               log_escape(std::string_view(early.data(), n), 60));
  std::string refusal = fmt::format("554 5.5.1 {} Error: you talked before the greeting\r\n", cfg.hostname);
  co_await say_and_close(conn, refusal);
  co_return false;
}

asio::awaitable<bool> judge_message_in_session(ServerContext& ctx, const Config& cfg, const ListenerConfig& listener,
                                               std::uint64_t sid,
                                               smtp::ServerSession& session, MessageIntake& intake, IpAddress ip,
                                               const inbound::ClientFacts& facts) {
  auto text = intake.message_in_memory();
  if (!text) {
    spdlog::info("session={} queue_id={} event=checks_skipped reason=message_too_large_for_memory", sid,
                 session.queue_id());
    co_return true;
  }
  inbound::CheckRequest rq;
  rq.client_ip = ip;
  rq.helo = session.envelope().helo;
  rq.mail_from = session.envelope().mail_from.to_string();
  rq.message = std::make_shared<const std::string>(*text);
  rq.client = facts;
  rq.now_unix =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  inbound::CheckVerdict v = co_await judge_message(ctx, cfg, listener.checks_config, std::move(rq));
  using Action = inbound::CheckVerdict::Action;
  spdlog::info("session={} queue_id={} event=checked {} action={}", sid, session.queue_id(),
               v.summary.empty() ? "none" : v.summary,
               v.action == Action::reject ? "reject" : v.action == Action::junk ? "junk" : "deliver");
  if (!v.dmarc_report_line.empty()) ctx.record_dmarc(cfg.data_dir, std::move(v.dmarc_report_line));
  if (v.action == Action::reject && v.reply) {
    intake.discard_message();
    spdlog::info("session={} queue_id={} event=rejected from=<{}> reply=\"{} {}\"", sid, session.queue_id(),
                 log_escape(session.envelope().mail_from.to_string()), v.reply->code,
                 log_escape(v.reply->lines.front(), 200));
    session.on_commit_refused(*v.reply);
    co_return false;
  }
  intake.amend_message(v.header_fields, authserv_id(cfg, listener.checks_config), v.action == Action::junk);
  co_return true;
}

void ServerContext::record_dmarc(const std::filesystem::path& data_dir, std::string line) {
  asio::post(pool_, [this, dir = data_dir / "dmarc", line = std::move(line)] {
    std::lock_guard lock(dmarc_mu_);
    if (!make_private_dirs(dir)) return;
    int fd = ::open((dir / "records.jsonl").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return;
    std::string l = line + "\n";
    // One write per line with O_APPEND: lines never interleave.
    [[maybe_unused]] auto n = ::write(fd, l.data(), l.size());
    ::close(fd);
  });
}

}  // namespace tern::runtime
