// Brute-force resistance for AUTH: failures are counted per client address
// and per account; past the limit within the window, AUTH gets "421 4.7.0"
// and the connection is closed until the window has moved on. In memory,
// shared by all connections (a restart forgets, which only helps a real
// user who was locked out).
#pragma once
#include <chrono>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

namespace tern::runtime {

class AuthThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  explicit AuthThrottle(unsigned max_failures = 5, std::chrono::seconds window = std::chrono::minutes(5))
      : max_(max_failures), window_(window) {}

  bool blocked(const std::string& ip, const std::string& user);
  void failed(const std::string& ip, const std::string& user);

 private:
  bool over(std::deque<Clock::time_point>& times, Clock::time_point now);

  unsigned max_;
  std::chrono::seconds window_;
  std::mutex mu_;
  std::unordered_map<std::string, std::deque<Clock::time_point>> by_ip_, by_user_;
};

}  // namespace tern::runtime
