// The Resolver on libunbound: asynchronous lookups with DNSSEC status, through
// one file descriptor an event loop can watch, or through a small thread of
// its own for code that has no event loop (queue workers). It never blocks the
// caller of lookup() on the network.
//
// Threading contract:
//  * lookup() may be called from any thread, also from inside a callback.
//  * Callbacks run on the thread that calls process(): the resolver's own
//    thread after start_thread(), otherwise the event loop that watches fd().
//    They run with no lock held (so they may call lookup()), one process()
//    call at a time delivers them in order; they must not throw, and should
//    not block (every other answer waits behind them).
//  * stop() (also run by the destructor) completes every pending lookup with
//    `temporary` on the calling thread; after it, lookup() calls `done` inline
//    with `temporary`. Neither stop() nor the destructor may run inside a
//    callback of this resolver.
//
// Caching: libunbound's own message and RRset caches (sizes and TTL caps set
// below) are the positive and negative cache; there is no second cache here.
// Theirs honours each RRset's TTL and RFC 2308 negative TTLs, is shared by all
// threads and bounded in bytes; a cache in front of it would repeat that, and
// answering from it inside lookup() would break the rule that callbacks come
// from process(). A cached answer costs one hop through libunbound's pipe.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/error.hpp"
#include "services/dns/resolver.hpp"

struct ub_ctx;
struct ub_result;

namespace tern::dns {

struct UnboundSettings {
  // Servers to forward every query to, as "IP:port", "[IPv6]:port" or a bare
  // address (port 53). Empty: the nameservers of resolv_conf.
  std::vector<std::string> servers;
  std::string resolv_conf = "/etc/resolv.conf";
  // A lookup still unanswered after this reports `temporary`.
  std::chrono::milliseconds timeout{10000};
  std::size_t msg_cache_bytes = 4 * 1024 * 1024;
  std::size_t rrset_cache_bytes = 8 * 1024 * 1024;
  std::uint32_t cache_max_ttl = 86400;         // seconds
  std::uint32_t cache_max_negative_ttl = 300;  // seconds; also caps DnsAnswer::ttl of negative answers
  // DNSKEY/DS trust anchors (e.g. /usr/share/dns/root.key). Empty: no DNSSEC
  // validation, every answer has secure == false.
  std::string trust_anchor_file;
};

// "127.0.0.1:5353" -> "127.0.0.1@5353", "[::1]:53" -> "::1@53", "::1" -> "::1";
// nothing when it is not an address with an optional port.
std::optional<std::string> unbound_forward_address(std::string_view server);

class UnboundResolver final : public Resolver {
 public:
  // Builds and finalises the libunbound context. A bad setting (unparsable
  // server, unreadable resolv.conf or trust anchor) is a permanent Error.
  static Result<std::unique_ptr<UnboundResolver>> create(const UnboundSettings& settings);
  ~UnboundResolver() override;
  UnboundResolver(const UnboundResolver&) = delete;
  UnboundResolver& operator=(const UnboundResolver&) = delete;

  void lookup(std::string name, RrType type, Callback done) override;

  // Event-loop mode: fd() (an epoll set of libunbound's result pipe, a wake-up
  // eventfd and the timeout timer) turns readable when there is work; then
  // call process(). It never blocks. Safe from any thread.
  int fd() const { return epoll_fd_; }
  void process();

  // Own-thread mode: a thread that waits on fd() and calls process().
  void start_thread();
  // Idempotent. See the threading contract above.
  void stop();

  std::size_t pending() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Query {
    std::string name;
    RrType type;
    Callback done;
    int async_id = 0;
    Clock::time_point deadline;
  };
  using Completion = std::pair<Callback, DnsAnswer>;

  UnboundResolver(ub_ctx* ctx, const UnboundSettings& settings);
  static void on_result(void* arg, int err, ub_result* result);
  void complete_locked(std::uint64_t key, int err, ub_result* result);
  void expire_locked(Clock::time_point now);
  void arm_timer_locked();
  void wake();
  void run();
  DnsAnswer make_answer(const Query& q, int err, const ub_result* result) const;

  ub_ctx* ctx_;
  UnboundSettings settings_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  int timer_fd_ = -1;
  mutable std::mutex mu_;
  std::uint64_t next_key_ = 0;
  std::unordered_map<std::uint64_t, Query> pending_;
  std::set<std::pair<Clock::time_point, std::uint64_t>> deadlines_;
  std::vector<Completion> ready_;  // completed under mu_, delivered after unlocking
  bool stopped_ = false;
  std::atomic<bool> thread_stop_{false};
  std::thread thread_;
};

}  // namespace tern::dns
