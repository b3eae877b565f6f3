#include "services/abuse/rate_limiter.hpp"

namespace tern::abuse {

void RateLimiter::advance(Window& w, const RateLimit& limit, Clock::time_point now) {
  auto elapsed = now - w.start;
  if (elapsed < limit.window) return;
  // One window on: the current count becomes the previous one; two or more:
  // both are history.
  w.previous = elapsed < 2 * limit.window ? w.count : 0;
  w.count = 0;
  w.start += limit.window * (elapsed / limit.window);
}

double RateLimiter::estimate(const Window& w, const RateLimit& limit, Clock::time_point now) {
  double into = std::chrono::duration<double>(now - w.start) / std::chrono::duration<double>(limit.window);
  if (into < 0) into = 0;
  if (into > 1) into = 1;
  return w.previous * (1.0 - into) + w.count;
}

bool RateLimiter::try_acquire(std::string_view key, const RateLimit& limit, Clock::time_point now,
                              std::uint32_t cost) {
  if (limit.count == 0) return true;
  std::lock_guard lock(mu_);
  auto it = windows_.find(std::string(key));
  if (it == windows_.end()) {
    if (windows_.size() >= max_keys_) prune_locked(limit, now);
    // Still full after pruning: a flood of distinct keys. Refusing would let
    // an attacker lock everyone out, so the key goes untracked instead.
    if (windows_.size() >= max_keys_) return cost <= limit.count;
    it = windows_.emplace(std::string(key), Window{now, 0, 0}).first;
  }
  Window& w = it->second;
  advance(w, limit, now);
  if (estimate(w, limit, now) + cost > limit.count) return false;
  w.count += cost;
  return true;
}

double RateLimiter::current(std::string_view key, const RateLimit& limit, Clock::time_point now) const {
  std::lock_guard lock(mu_);
  auto it = windows_.find(std::string(key));
  if (it == windows_.end()) return 0;
  Window w = it->second;
  advance(w, limit, now);
  return estimate(w, limit, now);
}

std::size_t RateLimiter::keys() const {
  std::lock_guard lock(mu_);
  return windows_.size();
}

void RateLimiter::prune_locked(const RateLimit& limit, Clock::time_point now) {
  std::erase_if(windows_, [&](const auto& kv) { return now - kv.second.start >= 2 * limit.window; });
}

bool ConnectionCounter::try_acquire(const std::string& key, std::uint32_t limit) {
  std::lock_guard lock(mu_);
  auto& n = open_[key];
  if (limit != 0 && n >= limit) {
    if (n == 0) open_.erase(key);
    return false;
  }
  ++n;
  return true;
}

void ConnectionCounter::release(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = open_.find(key);
  if (it == open_.end()) return;
  if (--it->second == 0) open_.erase(it);
}

std::uint32_t ConnectionCounter::count(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = open_.find(key);
  return it == open_.end() ? 0 : it->second;
}

}  // namespace tern::abuse
