#include "runtime/server.hpp"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.hpp"
#include "runtime/outbound.hpp"
#include "runtime/privileges.hpp"
#include "services/dkim/dkim_outbound.hpp"
#include "services/dmarc/dmarc_evaluator.hpp"
#include "services/dns/mx_router.hpp"
#include "services/dns/unbound_resolver.hpp"
#include "runtime/smtp_connection.hpp"
#include "runtime/tls_context.hpp"
#include "services/account_store.hpp"
#include "services/durable_file.hpp"

namespace tern::runtime {
namespace asio = boost::asio;

namespace {

// Blocking (SQLite): at start, or on the blocking pool for a reload.
std::shared_ptr<const Generation> make_generation(Config config) {
  auto g = std::make_shared<Generation>();
  auto cfg = std::make_shared<const Config>(std::move(config));
  g->config = cfg;
  AccountSnapshot accounts;
  if (auto store = AccountStore::open(cfg->data_dir / "accounts.db")) {
    if (auto snap = store->snapshot()) accounts = std::move(*snap);
    else spdlog::error("event=accounts_unreadable error=\"{}\"", snap.error().detail);
  } else {
    spdlog::error("event=accounts_unavailable error=\"{}\"", store.error().detail);
  }
  g->directory = std::make_shared<const RecipientDirectory>(*cfg, accounts);
  g->session.hostname = cfg->hostname;
  g->session.limits = cfg->smtp;
  g->session.auth_without_tls = cfg->smtp.allow_plaintext_auth;
  g->session.check_from_header = cfg->smtp.check_from_header;
  // Without a usable certificate Tern still runs, without STARTTLS, and says why.
  if (auto tls = make_server_tls_context(*cfg)) {
    g->tls = *tls;
    g->session.tls_available = true;
    g->session.auth_available = true;
  } else {
    spdlog::error("event=tls_unavailable error=\"{}\"", tls.error().detail);
  }
  return g;
}

}  // namespace

QueueSettings queue_settings(const Config& c) {
  QueueSettings q;
  q.workers = c.queue.delivery_workers;
  q.retry_interval = c.queue.retry_interval;
  q.max_retry_interval = c.queue.max_retry_interval;
  q.max_lifetime = c.queue.max_lifetime;
  q.hostname = c.hostname;
  q.postmaster = "postmaster@" + c.domains.front();
  return q;
}

struct Server::Impl {
  Config initial;
  std::optional<std::filesystem::path> config_file;
  asio::io_context io;
  Spool spool;
  LocalDelivery local;
  CommitLog log;
  QueueManager queue;
  ServerContext ctx;
  std::vector<asio::ip::tcp::acceptor> acceptors;
  std::unique_ptr<dns::UnboundResolver> resolver;
  std::unique_ptr<dns::MxRouter> mx_router;
  std::unique_ptr<OutboundTransport> outbound;
  std::unique_ptr<dkim::OutboundSigner> dkim_signer;
  asio::signal_set stop_signals{io, SIGTERM, SIGINT};
  asio::signal_set hup_signal{io, SIGHUP};
  asio::signal_set usr1_signal{io, SIGUSR1};
  asio::steady_timer grace_timer{io};

  Impl(Config c, std::optional<std::filesystem::path> file)
      : initial(std::move(c)),
        config_file(std::move(file)),
        spool(initial.queue_dir()),
        local(initial.mail_dir(), initial.hostname, spool),
        log(initial.queue_dir() / "log"),
        queue(queue_settings(initial), spool, local, log,
              [this](const std::string& address) { return resolve_mailbox(address); }),
        ctx(make_generation(initial), spool, log, queue) {}

  asio::awaitable<void> accept_loop(asio::ip::tcp::acceptor& acceptor, ListenerKind kind, std::size_t listener) {
    for (;;) {
      auto [ec, socket] =
          co_await acceptor.async_accept(asio::make_strand(io), asio::as_tuple(asio::use_awaitable));
      if (ec) {
        if (ec == asio::error::operation_aborted || ctx.stopping()) co_return;
        spdlog::warn("event=accept_failed error=\"{}\"", ec.message());
        continue;  // e.g. EMFILE: keep serving the connections we have
      }
      // Replies are small writes; none should wait for a delayed ACK.
      boost::system::error_code ignored;
      socket.set_option(asio::ip::tcp::no_delay(true), ignored);
      auto conn = std::make_shared<Connection>(std::move(socket));
      auto gen = ctx.generation();
      if (!ctx.admit(conn, gen->config->smtp.max_connections)) {
        // Over the limit: say why and close, without starting a session.
        spdlog::warn("event=connection_refused reason=max_connections limit={}", gen->config->smtp.max_connections);
        auto msg = std::make_shared<std::string>("421 4.7.0 " + gen->config->hostname +
                                                 " Error: too many connections, try again later\r\n");
        asio::async_write(conn->socket, asio::buffer(*msg), [conn, msg](auto, auto) {
          boost::system::error_code close_error;
          conn->socket.close(close_error);
        });
        continue;
      }
      asio::co_spawn(
          conn->socket.get_executor(),
          [this, conn, kind, listener]() -> asio::awaitable<void> {
            co_await serve_smtp(conn, ctx, kind, listener);
            ctx.leave(conn);
            if (ctx.stopping() && ctx.live_count() == 0) grace_timer.cancel();
          },
          [](std::exception_ptr e) {
            if (!e) return;
            try { std::rethrow_exception(e); } catch (const std::exception& ex) {
              spdlog::error("event=session_crashed error=\"{}\"", ex.what());
            }
          });
    }
  }

  void begin_stop() {
    if (ctx.stopping()) return;
    ctx.set_stopping();
    spdlog::info("event=stopping connections={}", ctx.live_count());
    for (auto& a : acceptors) {
      boost::system::error_code ignored;
      a.close(ignored);
    }
    // Idle sessions get 421 4.3.2 now; a message in DATA may finish first.
    for (auto& c : ctx.live()) {
      asio::post(c->socket.get_executor(), [c] {
        c->shutdown_requested = true;
        boost::system::error_code ignored;
        c->socket.cancel(ignored);
      });
    }
    grace_timer.expires_after(std::chrono::seconds(ctx.generation()->config->smtp.shutdown_grace));
    grace_timer.async_wait([this](boost::system::error_code) {
      if (ctx.live_count() > 0) spdlog::warn("event=stop_forced connections={}", ctx.live_count());
      io.stop();
    });
    if (ctx.live_count() == 0) grace_timer.cancel();
  }

  // The mailbox an address is delivered to ("" when it is not local), with the
  // directory of the current configuration.
  std::string resolve_mailbox(const std::string& address) {
    auto parsed = parse_mailbox(address);
    if (!parsed) return {};
    auto mb = ctx.generation()->directory->resolve(*parsed);
    return mb ? mb->address : std::string{};
  }

  // `tern queue flush|retry|bounce|delete` change the spool, then send SIGUSR1.
  void wait_for_usr1() {
    usr1_signal.async_wait([this](boost::system::error_code ec, int) {
      if (ec) return;
      spdlog::info("event=queue_rescan reason=SIGUSR1");
      queue.rescan();
      wait_for_usr1();
    });
  }

  void wait_for_hup() {
    hup_signal.async_wait([this](boost::system::error_code ec, int) {
      if (ec) return;
      reload();
      wait_for_hup();
    });
  }

  void reload() {
    if (dkim_signer) dkim_signer->clear();
    // The account database and the certificate are read off the I/O thread.
    asio::post(ctx.blocking_pool(), [this] {
      try {
        Config next = config_file ? load_config_file(*config_file) : default_config();
        // Listeners and storage paths are fixed for the life of the process;
        // what applies on each (checks, limits) is reloaded.
        auto reloaded = std::move(next.listeners);
        next.listeners = initial.listeners;
        if (reloaded.size() == next.listeners.size())
          for (std::size_t i = 0; i < reloaded.size(); ++i) {
            next.listeners[i].checks = reloaded[i].checks;
            next.listeners[i].checks_config = reloaded[i].checks_config;
            next.listeners[i].limits_config = reloaded[i].limits_config;
          }
        next.data_dir = initial.data_dir;
        abuse::GreylistSettings gs;
        gs.delay = std::chrono::seconds(next.checks.greylist_delay);
        ctx.abuse().greylist.configure(gs);
        ctx.set_generation(make_generation(std::move(next)));
        spdlog::info("event=reload status=ok config=\"{}\"", config_file ? config_file->string() : "embedded defaults");
      } catch (const std::exception& e) {
        spdlog::error("event=reload status=failed error=\"{}\"", e.what());
      }
    });
  }

  // DNS (libunbound on its own thread), MX routing and the SMTP client. A
  // resolver that cannot start leaves remote mail queued (temporary failures).
  void start_outbound() {
    const Config& cfg = initial;
    dns::UnboundSettings us;
    us.servers = cfg.dns.servers;
    us.timeout = std::chrono::seconds(cfg.dns.timeout);
    auto r = dns::UnboundResolver::create(us);
    if (!r) {
      spdlog::error("event=dns_unavailable error=\"{}\"", r.error().detail);
      return;
    }
    resolver = std::move(*r);
    resolver->start_thread();
    dns::MxRouterSettings ms;
    ms.local_names = {cfg.hostname};
    for (const auto& l : cfg.listeners)
      if (auto a = IpAddress::parse(l.host)) ms.local_addresses.push_back(*a);
    ms.address_order = cfg.delivery.prefer_ipv6 ? dns::AddressOrder::ipv6_first : dns::AddressOrder::ipv4_first;
    mx_router = std::make_unique<dns::MxRouter>(*resolver, ms);
    std::uint16_t port = cfg.delivery.port;
    Router router = [this, port](const std::string& domain, std::function<void(Result<std::vector<Target>>)> done) {
      mx_router->route(domain, [port, done = std::move(done)](Result<dns::Route> route) {
        if (!route) return done(std::unexpected(route.error()));
        std::vector<Target> targets;
        for (const auto& h : route->hosts)
          for (const auto& a : h.addresses) targets.push_back(Target{h.host, a.to_string(), port});
        done(std::move(targets));
      });
    };
    outbound = std::make_unique<OutboundTransport>(io, cfg, std::move(router));
    queue.set_transport(outbound.get());
    dkim_signer = std::make_unique<dkim::OutboundSigner>(cfg.data_dir);
    queue.set_signer([this](const QueueEnvelope& env, std::string_view message) {
      return dkim_signer->sign(env, message);
    });
    spdlog::info("event=outbound_ready dns=\"{}\" relay=\"{}\"",
                 cfg.dns.servers.empty() ? std::string("resolv.conf") : fmt::format("{}", fmt::join(cfg.dns.servers, ",")),
                 cfg.relay.enabled() ? fmt::format("{}:{}", cfg.relay.host, cfg.relay.port) : std::string("none (MX)"));
  }

  // The inbound checks share the outbound resolver; the Public Suffix List is
  // read once (DMARC still works without it, less precisely).
  void start_checks() {
    std::shared_ptr<const dmarc::PublicSuffixList> psl;
    if (initial.checks.dmarc != "off") {
      if (auto list = dmarc::load_public_suffix_list(initial.checks.public_suffix_list)) {
        psl = std::make_shared<const dmarc::PublicSuffixList>(std::move(*list));
      } else {
        spdlog::warn("event=public_suffix_list_unavailable path={} error=\"{}\" hint=\"install the publicsuffix "
                     "package; DMARC uses each From domain as its own organisational domain meanwhile\"",
                     initial.checks.public_suffix_list, list.error().detail);
      }
    }
    ctx.set_check_services(resolver.get(), std::move(psl));
    abuse::GreylistSettings gs;
    gs.delay = std::chrono::seconds(initial.checks.greylist_delay);
    ctx.abuse().greylist.configure(gs);
  }

  std::filesystem::path pid_file() const { return initial.data_dir / "ternd.pid"; }

  // Lets `tern queue` find the running daemon to signal it.
  void write_pid_file() {
    std::string pid = std::to_string(::getpid()) + "\n";
    if (FILE* f = std::fopen(pid_file().c_str(), "w")) {
      std::fputs(pid.c_str(), f);
      std::fclose(f);
    } else {
      spdlog::warn("event=pid_file_failed path={}", pid_file().string());
    }
  }

  int run() {
    ::umask(077);
    const Config& cfg = initial;
    if (auto r = make_private_dirs(cfg.data_dir); !r) {
      spdlog::critical("event=startup_failed error=\"{}\"", r.error().detail);
      return 1;
    }
    if (auto r = spool.prepare(); !r) {
      spdlog::critical("event=startup_failed error=\"{}\"", r.error().detail);
      return 1;
    }
    if (auto r = make_private_dirs(cfg.mail_dir()); !r) {
      spdlog::critical("event=startup_failed error=\"{}\"", r.error().detail);
      return 1;
    }
    for (const auto& l : cfg.listeners) {
      try {
        asio::ip::tcp::endpoint ep(asio::ip::make_address(l.host), l.port);
        asio::ip::tcp::acceptor a(io);
        a.open(ep.protocol());
        a.set_option(asio::socket_base::reuse_address(true));
        if (ep.address().is_v6()) a.set_option(asio::ip::v6_only(true));
        a.bind(ep);
        a.listen(asio::socket_base::max_listen_connections);
        acceptors.push_back(std::move(a));
        spdlog::info("event=listening protocol={} address={}", l.protocol, l.address);
      } catch (const std::exception& e) {
        spdlog::critical("event=startup_failed listener={} error=\"{}\"", l.address, e.what());
        return 1;
      }
    }
    if (::geteuid() == 0) {
      if (cfg.run_as_user.empty()) {
        spdlog::warn("event=running_as_root hint=\"set [server] user to drop privileges\"");
      } else {
        if (auto e = hand_over_directory(cfg.data_dir, cfg.run_as_user); !e.empty()) {
          spdlog::critical("event=startup_failed error=\"{}\"", e);
          return 1;
        }
        if (auto e = drop_privileges(cfg.run_as_user); !e.empty()) {
          spdlog::critical("event=startup_failed error=\"{}\"", e);
          return 1;
        }
        spdlog::info("event=privileges_dropped user={}", cfg.run_as_user);
      }
    }
    start_outbound();
    start_checks();
    if (auto r = log.open(); !r) {
      spdlog::critical("event=startup_failed error=\"{}\"", r.error().detail);
      return 1;
    }
    queue.start();
    for (std::size_t i = 0; i < acceptors.size(); ++i)
      asio::co_spawn(io, accept_loop(acceptors[i], listener_kind(cfg.listeners[i].protocol), i), asio::detached);
    stop_signals.async_wait([this](boost::system::error_code ec, int sig) {
      if (!ec) {
        spdlog::info("event=signal signal={}", sig == SIGTERM ? "TERM" : "INT");
        begin_stop();
      }
    });
    wait_for_hup();
    wait_for_usr1();
    write_pid_file();
    spdlog::info("event=started hostname={} data_dir={} config=\"{}\"", cfg.hostname, cfg.data_dir.string(),
                 cfg.source);

    unsigned n = std::max(2u, std::thread::hardware_concurrency());
    std::vector<std::thread> threads;
    for (unsigned i = 1; i < n; ++i) threads.emplace_back([this] { io.run(); });
    io.run();
    for (auto& t : threads) t.join();
    ctx.blocking_pool().join();
    // Deliver what was handed over, sync it, then close the log (which deletes
    // its last segment when nothing in it is still needed).
    queue.stop();
    log.stop();
    if (resolver) resolver->stop();
    ::unlink(pid_file().c_str());
    spdlog::info("event=stopped");
    flush_logging();
    return 0;
  }
};

Server::Server(Config config, std::optional<std::filesystem::path> config_file)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(config_file))) {}
Server::~Server() = default;
int Server::run() { return impl_->run(); }

}  // namespace tern::runtime
