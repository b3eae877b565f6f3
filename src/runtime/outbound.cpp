#include "runtime/outbound.hpp"

#include <algorithm>
#include <cerrno>
#include <deque>
#include <sys/socket.h>
#include <fstream>
#include <map>
#include <mutex>
#include <spdlog/spdlog.h>

#include <boost/asio/ssl.hpp>

#include "base/strings.hpp"
#include "protocol/smtp/client_session.hpp"

namespace tern::runtime {
namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using namespace boost::asio::experimental::awaitable_operators;

namespace {

// Collects the outcomes of one request from every destination it was split
// into, and answers the queue once, when the last one reports.
struct Joiner {
  std::mutex mu;
  std::vector<RemoteOutcome> outcomes;
  std::size_t pending = 0;
  std::function<void(std::vector<RemoteOutcome>)> done;

  void add(std::vector<RemoteOutcome> more) {
    std::function<void(std::vector<RemoteOutcome>)> call;
    std::vector<RemoteOutcome> all;
    {
      std::lock_guard lock(mu);
      outcomes.insert(outcomes.end(), more.begin(), more.end());
      if (--pending != 0) return;
      call = std::move(done);
      all = std::move(outcomes);
    }
    call(std::move(all));
  }
};

// One message for one destination.
struct Delivery {
  RemoteRequest request;
  std::vector<std::size_t> indices;
  std::shared_ptr<Joiner> joiner;
  unsigned connection_failures = 0;

  void finish(std::vector<RemoteOutcome> outcomes) { joiner->add(std::move(outcomes)); }
  void finish_all(RemoteOutcome::Kind kind, const std::string& status, const std::string& diagnostic,
                  const std::string& mta) {
    std::vector<RemoteOutcome> out;
    for (auto i : indices) out.push_back({i, kind, status, diagnostic, mta});
    finish(std::move(out));
  }
};

struct Destination {
  std::deque<std::shared_ptr<Delivery>> waiting;
  unsigned workers = 0;
  unsigned idle = 0;
  std::unique_ptr<asio::steady_timer> wakeup;  // idle workers wait here for more mail
};

std::string status_of(const smtp::Reply& r) {
  if (!r.enhanced.empty()) return r.enhanced;
  return fmt::format("{}.0.0", r.code / 100);
}

std::string summary_of(const smtp::Reply& r) {
  std::string text;
  for (const auto& l : r.lines) text += (text.empty() ? "" : " ") + l;
  return log_escape(fmt::format("{}{}{} {}", r.code, r.enhanced.empty() ? "" : " ", r.enhanced, text), 400);
}

std::string read_secret(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n' || line.back() == ' ')) line.pop_back();
  return line;
}

// A plain TCP socket that may be upgraded to TLS in place (STARTTLS).
struct Channel {
  explicit Channel(const asio::any_io_executor& ex) : socket(ex) {}
  tcp::socket socket;
  std::unique_ptr<ssl::stream<tcp::socket&>> tls;

  asio::awaitable<std::tuple<boost::system::error_code, std::size_t>> read_some(asio::mutable_buffer b) {
    if (tls) co_return co_await tls->async_read_some(b, asio::as_tuple(asio::use_awaitable));
    co_return co_await socket.async_read_some(b, asio::as_tuple(asio::use_awaitable));
  }
  asio::awaitable<boost::system::error_code> write(std::string_view bytes) {
    if (bytes.empty()) co_return boost::system::error_code{};
    auto [ec, n] = tls ? co_await asio::async_write(*tls, asio::buffer(bytes), asio::as_tuple(asio::use_awaitable))
                       : co_await asio::async_write(socket, asio::buffer(bytes), asio::as_tuple(asio::use_awaitable));
    co_return ec;
  }
  void close() {
    boost::system::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }
};

}  // namespace

struct OutboundTransport::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io_context, const Config& config, Router r)
      : io(io_context),
        strand(asio::make_strand(io_context)),
        hostname(config.hostname),
        delivery(config.delivery),
        relay(config.relay),
        router(std::move(r)),
        tls_context(ssl::context::tls_client) {
    // Opportunistic TLS to MX hosts does not authenticate the server (RFC 7435:
    // some encryption beats none); it only refuses protocols below TLS 1.2.
    tls_context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                            ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    tls_context.set_verify_mode(ssl::verify_none);
    if (relay.enabled() && !relay.password_file.empty()) relay_password = read_secret(relay.password_file);
  }

  asio::io_context& io;
  asio::strand<asio::io_context::executor_type> strand;
  std::string hostname;
  DeliveryConfig delivery;
  RelayConfig relay;
  std::string relay_password;
  Router router;
  ssl::context tls_context;
  std::map<std::string, Destination> destinations;  // on strand
  unsigned connections = 0;                          // on strand

  void send(RemoteRequest request, std::function<void(std::vector<RemoteOutcome>)> done) {
    // Split by destination: the relay host takes everything, else the domain.
    std::map<std::string, std::vector<std::size_t>> groups;
    for (auto i : request.recipients) {
      const std::string& addr = request.envelope.recipients[i].address;
      std::string key = relay.enabled() ? std::string("[relay]") : to_lower(addr.substr(addr.rfind('@') + 1));
      groups[key].push_back(i);
    }
    auto joiner = std::make_shared<Joiner>();
    joiner->pending = groups.size();
    joiner->done = std::move(done);
    if (groups.empty()) {
      joiner->pending = 1;
      joiner->add({});
      return;
    }
    auto shared = std::make_shared<RemoteRequest>(std::move(request));
    asio::post(strand, [self = shared_from_this(), groups = std::move(groups), shared, joiner] {
      for (auto& [key, indices] : groups) {
        auto d = std::make_shared<Delivery>(Delivery{*shared, indices, joiner, 0});
        auto& dest = self->destinations[key];
        if (!dest.wakeup) dest.wakeup = std::make_unique<asio::steady_timer>(self->strand);
        dest.waiting.push_back(std::move(d));
        self->start_worker_if_needed(key);
      }
    });
  }

  void start_worker_if_needed(const std::string& key) {
    auto& dest = destinations[key];
    if (dest.idle > 0) {
      dest.wakeup->cancel_one();
      return;
    }
    if (dest.waiting.empty() || dest.workers >= delivery.max_per_destination ||
        connections >= delivery.max_connections)
      return;
    // Start one more connection only when the queued work is more than the
    // running connections will get to soon.
    if (dest.workers > 0 && dest.waiting.size() <= dest.workers) return;
    ++dest.workers;
    ++connections;
    asio::co_spawn(strand, worker(key), [self = shared_from_this(), key](std::exception_ptr e) {
      if (e) {
        try { std::rethrow_exception(e); } catch (const std::exception& ex) {
          spdlog::error("event=outbound_crashed destination={} error=\"{}\"", key, ex.what());
        }
      }
      auto& d = self->destinations[key];
      --d.workers;
      --self->connections;
      // A slot is free: give it to whoever waits (this destination first).
      self->start_worker_if_needed(key);
      for (auto& [other, od] : self->destinations)
        if (!od.waiting.empty() && od.workers == 0) self->start_worker_if_needed(other);
    });
  }

  asio::awaitable<Result<std::vector<Target>>> route(const std::string& key) {
    if (key == "[relay]") {
      // A smart host: an address literal, or a name resolved like an MX host.
      if (IpAddress::parse(relay.host)) co_return std::vector<Target>{{relay.host, relay.host, relay.port}};
    }
    std::string domain = key == "[relay]" ? relay.host : key;
    // g++ 12 destroys a lambda temporary inside a co_await expression twice
    // when it captures by value (GCC PR 99576): keep the initiation named.
    auto initiation = [this](auto handler, std::string name) {
      auto ex = asio::get_associated_executor(handler, strand);
      auto h = std::make_shared<decltype(handler)>(std::move(handler));
      router(name, [h, ex](Result<std::vector<Target>> r) mutable {
        asio::post(ex, [h, r = std::move(r)]() mutable { (*h)(std::move(r)); });
      });
    };
    auto result = co_await asio::async_initiate<decltype(asio::use_awaitable), void(Result<std::vector<Target>>)>(
        initiation, asio::use_awaitable, domain);
    if (result && key == "[relay]")
      for (auto& t : *result) t.port = relay.port;
    co_return result;
  }

  smtp::ClientSettings client_settings(bool tls_off) const {
    smtp::ClientSettings s;
    s.helo_name = hostname;
    if (relay.enabled()) {
      s.tls = relay.tls == "implicit" ? smtp::ClientTls::implicit
              : relay.tls == "none"   ? smtp::ClientTls::off
                                      : smtp::ClientTls::required;
      if (!relay.username.empty()) s.credentials = smtp::ClientCredentials{relay.username, relay_password};
    } else {
      s.tls = (tls_off || delivery.tls == "none") ? smtp::ClientTls::off : smtp::ClientTls::opportunistic;
    }
    return s;
  }

  // Runs the session until it needs the caller: ready, send_body or close.
  asio::awaitable<void> drive(Channel& ch, smtp::ClientSession& s, const std::string& mta) {
    std::vector<char> buf(8192);
    asio::steady_timer timer(strand);
    for (;;) {
      if (spdlog::should_log(spdlog::level::debug))
        for (const auto& line : s.redacted_trace()) spdlog::debug("relay={} event=command text=\"{}\"", mta, line);
      std::string out = s.output();
      s.clear_output();
      if (auto ec = co_await ch.write(out); ec) {
        s.on_connection_closed(ec.message());
        continue;
      }
      switch (s.action()) {
        case smtp::ClientAction::read_reply: {
          timer.expires_after(s.timeout_for_current_state());
          auto r = co_await (ch.read_some(asio::buffer(buf)) || timer.async_wait(asio::as_tuple(asio::use_awaitable)));
          if (r.index() == 1) {
            s.on_timeout();
            break;
          }
          auto [ec, n] = std::get<0>(r);
          if (ec) s.on_connection_closed(ec.message());
          else s.feed(std::string_view(buf.data(), n));
          break;
        }
        case smtp::ClientAction::start_tls: {
          ch.tls = std::make_unique<ssl::stream<tcp::socket&>>(ch.socket, tls_context);
          std::string host = mta.substr(0, mta.find('['));
          if (!IpAddress::parse(host)) SSL_set_tlsext_host_name(ch.tls->native_handle(), host.c_str());
          timer.expires_after(std::chrono::seconds(60));
          auto r = co_await (ch.tls->async_handshake(ssl::stream_base::client, asio::as_tuple(asio::use_awaitable)) ||
                             timer.async_wait(asio::as_tuple(asio::use_awaitable)));
          boost::system::error_code ec = r.index() == 1 ? asio::error::timed_out : std::get<0>(std::get<0>(r));
          if (ec) s.on_tls_failed(ec.message());
          else s.on_tls_started();
          break;
        }
        default:
          co_return;
      }
    }
  }

  asio::awaitable<bool> connect(Channel& ch, const Target& t) {
    boost::system::error_code ec;
    auto address = asio::ip::make_address(t.address, ec);
    if (ec) co_return false;
    asio::steady_timer timer(strand);
    timer.expires_after(std::chrono::seconds(delivery.connect_timeout));
    auto r = co_await (ch.socket.async_connect(tcp::endpoint(address, t.port), asio::as_tuple(asio::use_awaitable)) ||
                       timer.async_wait(asio::as_tuple(asio::use_awaitable)));
    if (r.index() == 1 || std::get<0>(std::get<0>(r))) co_return false;
    // Commands and the end of data are small writes that must not wait for
    // the peer's delayed ACK of the previous one (Nagle, RFC 896).
    ch.socket.set_option(tcp::no_delay(true), ec);
    if (relay.enabled() && relay.tls == "implicit") {
      // RFC 8314: TLS from the first byte.
      ch.tls = std::make_unique<ssl::stream<tcp::socket&>>(ch.socket, tls_context);
      if (!IpAddress::parse(t.host)) SSL_set_tlsext_host_name(ch.tls->native_handle(), t.host.c_str());
      timer.expires_after(std::chrono::seconds(60));
      auto h = co_await (ch.tls->async_handshake(ssl::stream_base::client, asio::as_tuple(asio::use_awaitable)) ||
                         timer.async_wait(asio::as_tuple(asio::use_awaitable)));
      if (h.index() == 1 || std::get<0>(std::get<0>(h))) co_return false;
    }
    co_return true;
  }

  std::vector<RemoteOutcome> outcomes_of(const Delivery& d, const smtp::TransactionResult& result,
                                         const std::string& mta) {
    std::vector<RemoteOutcome> out;
    for (std::size_t k = 0; k < d.indices.size(); ++k) {
      RemoteOutcome o;
      o.index = d.indices[k];
      if (k >= result.recipients.size()) {
        o.kind = RemoteOutcome::Kind::temporary;
        o.status = "4.4.2";
        o.diagnostic = "no answer for this recipient";
      } else {
        const auto& resp = result.recipients[k].response;
        o.kind = resp.outcome == smtp::Outcome::delivered   ? RemoteOutcome::Kind::delivered
                 : resp.outcome == smtp::Outcome::permanent ? RemoteOutcome::Kind::permanent
                                                            : RemoteOutcome::Kind::temporary;
        o.status = status_of(resp.reply);
        o.diagnostic = summary_of(resp.reply);
        if (!resp.local) o.remote_mta = mta;
      }
      out.push_back(std::move(o));
    }
    return out;
  }

  // Every recipient failed locally (no server reply at all): the connection
  // was gone before the transaction started.
  static bool lost_before_any_reply(const smtp::TransactionResult& r) {
    return !r.recipients.empty() && std::all_of(r.recipients.begin(), r.recipients.end(), [](const auto& x) {
      return x.response.local && x.response.outcome == smtp::Outcome::temporary;
    });
  }

  // False when the peer closed (or sent something unasked, like a 421 idle
  // timeout) while the connection waited for more mail.
  static bool still_open(Channel& ch) {
    char byte;
    ssize_t n = ::recv(ch.socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }

  // Takes the next delivery for this destination, waiting up to idle_timeout.
  asio::awaitable<std::shared_ptr<Delivery>> next_delivery(const std::string& key) {
    auto& dest = destinations[key];
    if (dest.waiting.empty() && delivery.idle_timeout > 0) {
      ++dest.idle;
      dest.wakeup->expires_after(std::chrono::seconds(delivery.idle_timeout));
      co_await dest.wakeup->async_wait(asio::as_tuple(asio::use_awaitable));
      --dest.idle;
    }
    if (dest.waiting.empty()) co_return nullptr;
    auto d = std::move(dest.waiting.front());
    dest.waiting.pop_front();
    co_return d;
  }

  asio::awaitable<void> worker(std::string key) {
    auto self = shared_from_this();
    auto targets = co_await route(key);
    if (!targets) {
      auto& dest = destinations[key];
      const Error& e = targets.error();
      auto kind = e.permanent() ? RemoteOutcome::Kind::permanent : RemoteOutcome::Kind::temporary;
      // The status code leads the client text ("5.1.10 ..."), as the router writes it.
      std::string status = e.client_text.substr(0, e.client_text.find(' '));
      if (status.size() < 5 || status[1] != '.') status = e.permanent() ? "5.4.4" : "4.4.3";
      spdlog::info("destination={} event=route_failed permanent={} error=\"{}\"", key, e.permanent(), e.detail);
      while (!dest.waiting.empty()) {
        dest.waiting.front()->finish_all(kind, status, e.client_text, "");
        dest.waiting.pop_front();
      }
      co_return;
    }
    std::string last_error = "no mail server for this destination";
    bool last_permanent = false;
    std::string last_status = "4.4.1";
    std::string last_mta;
    std::size_t ti = 0;
    bool tls_off = false;
    unsigned reconnects = 0;
    bool retried_on_fresh_connection = false;
    std::shared_ptr<Delivery> current;  // taken but not yet answered
    while (ti < targets->size()) {
      if (!current) current = co_await next_delivery(key);
      if (!current) co_return;  // nothing to do
      const Target& t = (*targets)[ti];
      const std::string mta = fmt::format("{}[{}]:{}", t.host, t.address, t.port);
      Channel ch(strand);
      if (!co_await connect(ch, t)) {
        spdlog::info("destination={} relay={} event=connect_failed", key, mta);
        last_error = fmt::format("connect to {} failed", mta);
        last_status = "4.4.1";
        last_permanent = false;
        last_mta.clear();
        ++ti;
        continue;
      }
      smtp::ClientSession session(client_settings(tls_off));
      co_await drive(ch, session, mta);
      if (session.action() != smtp::ClientAction::ready) {
        const auto& f = session.failure();
        bool retry_plain = f && f->tls_handshake_failed() && !relay.enabled() && !tls_off;
        last_error = f ? (f->reply ? summary_of(*f->reply) : f->detail) : "connection failed";
        last_status = f && f->reply ? status_of(*f->reply) : "4.4.2";
        last_permanent = f && !f->temporary;
        last_mta = mta;
        spdlog::info("destination={} relay={} event=session_failed error=\"{}\"{}", key, mta, log_escape(last_error),
                     retry_plain ? " retry=without_tls" : "");
        ch.close();
        if (retry_plain) {
          tls_off = true;  // RFC 3207 §4.1: opportunistic, so try again in clear
          continue;
        }
        tls_off = false;
        ++ti;
        continue;
      }
      spdlog::info("destination={} relay={} event=connected tls={} auth={}", key, mta,
                   session.tls_active() ? "yes" : "no", session.authenticated() ? "yes" : "no");
      // Serve this destination's queue over the connection.
      while (current) {
        const auto& env = current->request.envelope;
        smtp::OutgoingMessage m;
        m.mail_from = env.sender;
        for (auto i : current->indices) m.recipients.push_back(env.recipients[i].address);
        m.size = current->request.message().size();
        m.needs_smtputf8 = env.smtputf8;
        m.body_8bit = env.body_8bit;
        session.send_message(std::move(m));
        co_await drive(ch, session, mta);
        if (session.action() == smtp::ClientAction::send_body) {
          std::string_view body = current->request.message();
          constexpr std::size_t chunk = 64 * 1024;
          for (std::size_t pos = 0; pos < body.size(); pos += chunk) {
            session.send_body_chunk(body.substr(pos, chunk));
            // The last piece goes out together with the end of data.
            if (pos + chunk >= body.size()) break;
            std::string out = session.output();
            session.clear_output();
            if (auto ec = co_await ch.write(out); ec) {
              session.on_connection_closed(ec.message());
              break;
            }
          }
          if (session.action() == smtp::ClientAction::send_body) session.end_body();
          co_await drive(ch, session, mta);
        }
        auto result = session.take_result();
        if (!result) {
          // The connection died before the transaction was answered: the
          // message goes to the next connection attempt.
          break;
        }
        if (!result->body_sent && lost_before_any_reply(*result) && !retried_on_fresh_connection) {
          // The server had closed the connection (idle timeout) before this
          // transaction: not the message's fault, so try a new connection.
          retried_on_fresh_connection = true;
          break;
        }
        retried_on_fresh_connection = false;
        reconnects = 0;
        current->finish(outcomes_of(*current, *result, mta));
        current.reset();
        if (session.action() != smtp::ClientAction::ready) break;
        current = co_await next_delivery(key);
        // A reused connection may have been closed by the server while idle.
        if (current && !still_open(ch)) break;
      }
      if (session.action() == smtp::ClientAction::ready) {
        session.quit();
        co_await drive(ch, session, mta);
      }
      ch.close();
      if (!current) co_return;
      if (++reconnects > 3) break;
    }
    // Every target failed: this delivery (and what waits) must try later,
    // unless the servers refused us for good.
    auto kind = last_permanent ? RemoteOutcome::Kind::permanent : RemoteOutcome::Kind::temporary;
    auto& dest = destinations[key];
    if (current) current->finish_all(kind, last_status, last_error, last_mta);
    if (dest.workers == 1) {
      while (!dest.waiting.empty()) {
        dest.waiting.front()->finish_all(kind, last_status, last_error, last_mta);
        dest.waiting.pop_front();
      }
    }
  }
};

OutboundTransport::OutboundTransport(asio::io_context& io, const Config& config, Router router)
    : impl_(std::make_shared<Impl>(io, config, std::move(router))) {}

OutboundTransport::~OutboundTransport() = default;

void OutboundTransport::send(RemoteRequest request, std::function<void(std::vector<RemoteOutcome>)> done) {
  impl_->send(std::move(request), std::move(done));
}

}  // namespace tern::runtime
