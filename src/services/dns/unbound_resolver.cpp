#include "services/dns/unbound_resolver.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unbound.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "base/ip_network.hpp"

namespace tern::dns {
namespace {

// The resolver whose process() is running on this thread: libunbound calls
// on_result only from inside ub_process, so the callback finds its resolver
// here and libunbound never holds a pointer that could dangle.
thread_local UnboundResolver* t_processing = nullptr;

// Special-use zones libunbound answers itself (services/localzone.c, checked
// with ub_ctx_print_local_zones on 1.17): localhost. (redirect), test.,
// invalid., onion., home.arpa. (static, NXDOMAIN) and reverse zones of
// private and special ranges. With explicit servers we forward the ones a
// site's own resolver may legitimately serve: test. (RFC 6761 §6.2: test
// domains are what our test zones use) and home.arpa. (RFC 8375, served by the
// home network). invalid. and onion. stay NXDOMAIN (RFC 6761 §6.4, RFC 7686
// §2: never sent to DNS servers); localhost. stays local (RFC 6761 §6.3).
// Reverse private zones are forwarded through unblock-lan-zones below.
constexpr const char* forwarded_special_zones[] = {"test.", "home.arpa."};

Error config_error(std::string what) {
  return Error::permanent_failure("DNS resolver configuration error", std::move(what));
}

std::string rcode_name(int rcode) {
  switch (rcode) {
    case 0: return "NOERROR";
    case 1: return "FORMERR";
    case 2: return "SERVFAIL";
    case 3: return "NXDOMAIN";
    case 4: return "NOTIMP";
    case 5: return "REFUSED";
  }
  return fmt::format("RCODE{}", rcode);
}

Bytes as_bytes(const void* p, int len) {
  return len > 0 && p ? Bytes(static_cast<const std::uint8_t*>(p), static_cast<std::size_t>(len)) : Bytes();
}

}  // namespace

std::optional<std::string> unbound_forward_address(std::string_view server) {
  std::string_view host = server;
  std::string_view port;
  if (!server.empty() && server.front() == '[') {  // [v6]:port
    auto close = server.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = server.substr(1, close - 1);
    auto rest = server.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
      if (port.empty()) return std::nullopt;
    }
  } else if (server.find(':') != server.rfind(':')) {  // bare IPv6, no port
    host = server;
  } else if (auto colon = server.find(':'); colon != std::string_view::npos) {
    host = server.substr(0, colon);
    port = server.substr(colon + 1);
    if (port.empty()) return std::nullopt;
  }
  auto ip = IpAddress::parse(host);
  if (!ip) return std::nullopt;
  if (port.empty()) return ip->to_string();
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535) return std::nullopt;
  return fmt::format("{}@{}", ip->to_string(), value);
}

Result<std::unique_ptr<UnboundResolver>> UnboundResolver::create(const UnboundSettings& settings) {
  ub_ctx* ctx = ub_ctx_create();
  if (!ctx) return std::unexpected(config_error("ub_ctx_create failed"));
  auto fail = [&](std::string what) -> Result<std::unique_ptr<UnboundResolver>> {
    ub_ctx_delete(ctx);
    return std::unexpected(config_error(std::move(what)));
  };
  // Every option must be set before the context is finalised (the first
  // lookup, or ub_ctx_zone_remove below): later ones fail with UB_AFTERFINAL.
  // A background thread, not a forked process (the default), does the work.
  if (int r = ub_ctx_async(ctx, 1); r != 0) return fail(fmt::format("ub_ctx_async: {}", ub_strerror(r)));
  const std::pair<std::string, std::string> options[] = {
      // Without this libunbound refuses to send to 127.0.0.0/8 and ::1: a
      // loopback forwarder (the test unbound, systemd-resolved, a local
      // caching server named in resolv.conf) would never be asked.
      {"do-not-query-localhost:", "no"},
      {"msg-cache-size:", std::to_string(settings.msg_cache_bytes)},
      {"rrset-cache-size:", std::to_string(settings.rrset_cache_bytes)},
      {"cache-max-ttl:", std::to_string(settings.cache_max_ttl)},
      {"cache-max-negative-ttl:", std::to_string(settings.cache_max_negative_ttl)},
      // A forwarder that timed out is otherwise left alone for a while; keep
      // probing it so DNS comes back as soon as the server does.
      {"infra-keep-probing:", "yes"},
  };
  for (const auto& [opt, val] : options)
    if (int r = ub_ctx_set_option(ctx, opt.c_str(), val.c_str()); r != 0)
      return fail(fmt::format("ub_ctx_set_option {} {}: {}", opt, val, ub_strerror(r)));

  if (settings.servers.empty()) {
    // Note: a resolv.conf without nameservers makes libunbound use 127.0.0.1.
    if (int r = ub_ctx_resolvconf(ctx, settings.resolv_conf.c_str()); r != 0)
      return fail(fmt::format("reading {}: {}", settings.resolv_conf, ub_strerror(r)));
  } else {
    for (const auto& server : settings.servers) {
      auto addr = unbound_forward_address(server);
      if (!addr) return fail(fmt::format("dns server \"{}\" is not IP or IP:port", server));
      if (int r = ub_ctx_set_fwd(ctx, addr->c_str()); r != 0)
        return fail(fmt::format("ub_ctx_set_fwd {}: {}", *addr, ub_strerror(r)));
    }
    // Reverse zones of private ranges go to the configured servers too.
    for (const char* opt : {"unblock-lan-zones:", "insecure-lan-zones:"})
      if (int r = ub_ctx_set_option(ctx, opt, "yes"); r != 0)
        return fail(fmt::format("ub_ctx_set_option {}: {}", opt, ub_strerror(r)));
  }
  if (!settings.trust_anchor_file.empty())
    if (int r = ub_ctx_add_ta_file(ctx, settings.trust_anchor_file.c_str()); r != 0)
      return fail(fmt::format("trust anchor {}: {}", settings.trust_anchor_file, ub_strerror(r)));
  // Last: ub_ctx_zone_remove finalises the context (it builds the local zones
  // from the options above), so it must come after set_fwd and every option.
  if (!settings.servers.empty())
    for (const char* zone : forwarded_special_zones)
      if (int r = ub_ctx_zone_remove(ctx, zone); r != 0)
        return fail(fmt::format("ub_ctx_zone_remove {}: {}", zone, ub_strerror(r)));

  std::unique_ptr<UnboundResolver> resolver(new UnboundResolver(ctx, settings));
  if (resolver->epoll_fd_ < 0 || resolver->wake_fd_ < 0 || resolver->timer_fd_ < 0)
    return std::unexpected(Error::from_errno("DNS resolver event descriptors", errno));
  return resolver;
}

UnboundResolver::UnboundResolver(ub_ctx* ctx, const UnboundSettings& settings) : ctx_(ctx), settings_(settings) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  int ub = ub_fd(ctx_);  // valid from creation on, and it never changes
  if (epoll_fd_ < 0 || wake_fd_ < 0 || timer_fd_ < 0 || ub < 0) return;
  for (int fd : {ub, wake_fd_, timer_fd_}) {
    epoll_event ev{};
    ev.events = EPOLLIN;  // level-triggered: readable until process() drains it
    ev.data.fd = fd;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      close(epoll_fd_);
      epoll_fd_ = -1;
      return;
    }
  }
}

UnboundResolver::~UnboundResolver() {
  stop();
  ub_ctx_delete(ctx_);  // joins libunbound's background thread
  for (int fd : {epoll_fd_, wake_fd_, timer_fd_})
    if (fd >= 0) close(fd);
}

void UnboundResolver::lookup(std::string name, RrType type, Callback done) {
  std::unique_lock lock(mu_);
  if (stopped_) {
    lock.unlock();
    DnsAnswer a;
    a.status = DnsStatus::temporary;
    a.detail = "resolver stopped";
    done(std::move(a));
    return;
  }
  // The C API takes a NUL-terminated string: an embedded NUL would silently
  // ask for a different name. 1024 is far beyond any valid name with escapes.
  if (name.empty() || name.find('\0') != std::string::npos || name.size() > 1024) {
    DnsAnswer a;
    a.status = DnsStatus::permanent_error;
    a.detail = "malformed query name";
    ready_.emplace_back(std::move(done), std::move(a));
    lock.unlock();
    wake();
    return;
  }
  std::uint64_t key = ++next_key_;
  Query q{std::move(name), type, std::move(done), 0, Clock::now() + settings_.timeout};
  // No callback can run during this call: callbacks come only from
  // ub_process, which runs under mu_ too. libunbound's worker queues its
  // answers without blocking, so holding mu_ here cannot deadlock with it.
  int err = ub_resolve_async(ctx_, q.name.c_str(), static_cast<int>(q.type), 1 /* IN */,
                             reinterpret_cast<void*>(static_cast<std::uintptr_t>(key)), &UnboundResolver::on_result,
                             &q.async_id);
  if (err != 0) {
    DnsAnswer a;
    a.status = err == UB_SYNTAX ? DnsStatus::permanent_error : DnsStatus::temporary;
    a.detail = fmt::format("libunbound: {}", ub_strerror(err));
    ready_.emplace_back(std::move(q.done), std::move(a));
    lock.unlock();
    wake();
    return;
  }
  bool earliest = deadlines_.empty() || q.deadline < deadlines_.begin()->first;
  deadlines_.emplace(q.deadline, key);
  pending_.emplace(key, std::move(q));
  if (earliest) arm_timer_locked();
}

void UnboundResolver::on_result(void* arg, int err, ub_result* result) {
  auto key = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(arg));
  if (t_processing) {
    t_processing->complete_locked(key, err, result);
  } else {
    ub_resolve_free(result);  // cannot happen: only ub_process calls back
  }
}

void UnboundResolver::complete_locked(std::uint64_t key, int err, ub_result* result) {
  auto it = pending_.find(key);
  if (it == pending_.end()) {  // timed out or stopped meanwhile: already answered
    ub_resolve_free(result);
    return;
  }
  DnsAnswer answer = make_answer(it->second, err, result);
  ub_resolve_free(result);
  deadlines_.erase({it->second.deadline, key});
  ready_.emplace_back(std::move(it->second.done), std::move(answer));
  pending_.erase(it);
}

DnsAnswer UnboundResolver::make_answer(const Query& q, int err, const ub_result* r) const {
  DnsAnswer a;
  if (err != 0 || !r) {
    a.status = err == UB_SYNTAX ? DnsStatus::permanent_error : DnsStatus::temporary;
    a.detail = fmt::format("libunbound: {}", ub_strerror(err));
    return a;
  }
  a.secure = r->secure != 0;
  a.ttl = r->ttl > 0 ? static_cast<std::uint32_t>(r->ttl) : 0;
  std::vector<std::string> notes;
  // The CNAME chain is only in the packet; data[] holds the final records.
  if (auto msg = parse_message(as_bytes(r->answer_packet, r->answer_len))) {
    a.cname_chain = cname_chain(*msg);
  } else if (r->answer_len > 0) {
    notes.push_back("unparsable answer packet: " + msg.error());
  }
  if (r->bogus) {  // DNSSEC validation failed: the data may be forged (RFC 4035 §5.5)
    a.status = DnsStatus::temporary;
    notes.push_back(fmt::format("DNSSEC bogus: {}", r->why_bogus ? r->why_bogus : "?"));
  } else if (r->rcode == 0 && r->havedata) {
    for (int i = 0; r->data && r->data[i]; ++i) {
      auto rec = parse_rdata(q.type, as_bytes(r->data[i], r->len[i]));
      if (rec) {
        a.records.push_back(std::move(*rec));
      } else {
        notes.push_back(fmt::format("skipped malformed {} record: {}", to_string(q.type), rec.error()));
      }
    }
    // Records that exist but cannot be read are the remote side's problem,
    // which may be fixed: not proof that there are none.
    a.status = a.records.empty() ? DnsStatus::temporary : DnsStatus::ok;
  } else if (r->rcode == 0) {
    a.status = DnsStatus::nodata;
  } else if (r->rcode == 3) {
    a.status = DnsStatus::nxdomain;
  } else {
    a.status = DnsStatus::temporary;  // SERVFAIL, REFUSED, FORMERR, NOTIMP: try again later
    notes.push_back("rcode " + rcode_name(r->rcode));
  }
  if (a.status == DnsStatus::nodata || a.status == DnsStatus::nxdomain) {
    // Without an SOA in the reply libunbound reports a meaningless TTL (32768
    // seen with unbound 1.17): cap it like the cache does.
    a.ttl = std::min(a.ttl, settings_.cache_max_negative_ttl);
  }
  for (const auto& n : notes) a.detail += (a.detail.empty() ? "" : "; ") + n;
  return a;
}

void UnboundResolver::process() {
  std::vector<Completion> done;
  {
    std::lock_guard lock(mu_);
    std::uint64_t counter;
    while (read(wake_fd_, &counter, sizeof counter) > 0) {
    }
    while (read(timer_fd_, &counter, sizeof counter) > 0) {
    }
    if (!stopped_) {
      t_processing = this;
      int r = ub_process(ctx_);  // reads every queued answer; calls on_result
      t_processing = nullptr;
      if (r != 0) spdlog::error("event=dns_process_failed error=\"{}\"", ub_strerror(r));
    }
    expire_locked(Clock::now());
    arm_timer_locked();
    done.swap(ready_);
  }
  for (auto& [callback, answer] : done) callback(std::move(answer));
}

void UnboundResolver::expire_locked(Clock::time_point now) {
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    auto key = deadlines_.begin()->second;
    deadlines_.erase(deadlines_.begin());
    auto it = pending_.find(key);
    if (it == pending_.end()) continue;
    // libunbound drops the answer of a cancelled query; if it is already on
    // its way, complete_locked ignores the unknown key.
    ub_cancel(ctx_, it->second.async_id);
    DnsAnswer a;
    a.status = DnsStatus::temporary;
    a.detail = fmt::format("timed out after {} ms", settings_.timeout.count());
    ready_.emplace_back(std::move(it->second.done), std::move(a));
    pending_.erase(it);
  }
}

void UnboundResolver::arm_timer_locked() {
  itimerspec spec{};
  if (!deadlines_.empty()) {
    auto ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(deadlines_.begin()->first.time_since_epoch()).count();
    // steady_clock is CLOCK_MONOTONIC on Linux; 0 would disarm, so at least 1 ns.
    if (ns <= 0) ns = 1;
    spec.it_value.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
    spec.it_value.tv_nsec = static_cast<long>(ns % 1'000'000'000);
  }
  timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &spec, nullptr);
}

void UnboundResolver::wake() {
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = write(wake_fd_, &one, sizeof one);  // EAGAIN: already awake
}

void UnboundResolver::start_thread() {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stopped_) return;
  thread_ = std::thread([this] { run(); });
}

void UnboundResolver::run() {
  while (!thread_stop_.load()) {
    epoll_event ev[4];
    int n = epoll_wait(epoll_fd_, ev, 4, -1);
    if (n < 0 && errno != EINTR) {
      spdlog::error("event=dns_wait_failed error=\"{}\"", std::strerror(errno));
      return;
    }
    if (thread_stop_.load()) return;
    process();
  }
}

void UnboundResolver::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  thread_stop_.store(true);
  wake();
  if (thread_.joinable()) thread_.join();
  std::vector<Completion> done;
  {
    std::lock_guard lock(mu_);
    for (auto& [key, q] : pending_) {
      ub_cancel(ctx_, q.async_id);
      DnsAnswer a;
      a.status = DnsStatus::temporary;
      a.detail = "resolver stopped";
      ready_.emplace_back(std::move(q.done), std::move(a));
    }
    pending_.clear();
    deadlines_.clear();
    done.swap(ready_);
  }
  for (auto& [callback, answer] : done) callback(std::move(answer));
}

std::size_t UnboundResolver::pending() const {
  std::lock_guard lock(mu_);
  return pending_.size();
}

}  // namespace tern::dns
