#include "runtime/auth_throttle.hpp"

#include "base/strings.hpp"

namespace tern::runtime {

bool AuthThrottle::over(std::deque<Clock::time_point>& times, Clock::time_point now) {
  while (!times.empty() && now - times.front() > window_) times.pop_front();
  return times.size() >= max_;
}

bool AuthThrottle::blocked(const std::string& ip, const std::string& user) {
  std::lock_guard lock(mu_);
  auto now = Clock::now();
  auto i = by_ip_.find(ip);
  if (i != by_ip_.end() && over(i->second, now)) return true;
  auto u = by_user_.find(to_lower(user));
  return u != by_user_.end() && over(u->second, now);
}

void AuthThrottle::failed(const std::string& ip, const std::string& user) {
  std::lock_guard lock(mu_);
  auto now = Clock::now();
  by_ip_[ip].push_back(now);
  by_user_[to_lower(user)].push_back(now);
  // Keep memory bounded against a flood of distinct names: drop idle entries.
  if (by_user_.size() > 100000) {
    for (auto it = by_user_.begin(); it != by_user_.end();) {
      over(it->second, now);
      it = it->second.empty() ? by_user_.erase(it) : std::next(it);
    }
  }
}

}  // namespace tern::runtime
