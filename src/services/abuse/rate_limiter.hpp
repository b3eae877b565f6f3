// Per-key rate limits for what a remote peer controls: connections, messages
// and recipients per client address, messages per authenticated user. A
// sliding-window counter (two fixed windows, the older one weighted by how
// much of it still overlaps the window): O(1) memory per key, no timers, and
// no burst of twice the limit at a window edge. Thread-safe; the clock is a
// parameter so tests decide the time.
#pragma once
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace tern::abuse {

using Clock = std::chrono::steady_clock;

struct RateLimit {
  std::uint32_t count = 0;  // 0: unlimited
  std::chrono::seconds window{60};
};

class RateLimiter {
 public:
  explicit RateLimiter(std::size_t max_keys = 100'000) : max_keys_(max_keys) {}

  // Counts `cost` events for `key` at `now` when that keeps the key within
  // `limit`, and says whether it did. A refused attempt is not counted, so a
  // client that waits gets through again.
  bool try_acquire(std::string_view key, const RateLimit& limit, Clock::time_point now, std::uint32_t cost = 1);

  // The events the window holds for key now (weighted), for logs and tests.
  double current(std::string_view key, const RateLimit& limit, Clock::time_point now) const;

  std::size_t keys() const;

 private:
  struct Window {
    Clock::time_point start;
    std::uint32_t count = 0;
    std::uint32_t previous = 0;
  };
  static void advance(Window& w, const RateLimit& limit, Clock::time_point now);
  static double estimate(const Window& w, const RateLimit& limit, Clock::time_point now);
  void prune_locked(const RateLimit& limit, Clock::time_point now);

  std::size_t max_keys_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Window> windows_;
};

// Open connections per key (client address), for a concurrency cap.
class ConnectionCounter {
 public:
  // Counts one more for key unless that would pass `limit` (0: unlimited).
  bool try_acquire(const std::string& key, std::uint32_t limit);
  void release(const std::string& key);
  std::uint32_t count(const std::string& key) const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::uint32_t> open_;
};

}  // namespace tern::abuse
