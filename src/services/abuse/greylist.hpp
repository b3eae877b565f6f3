// Greylisting (the postgrey scheme): the first attempt from a (client network,
// sender, recipient) triplet is deferred with 451 4.7.1; a retry after
// `delay` and within `retry_window` passes, and a client that got mail
// through is whitelisted for `whitelist_lifetime`, so only unknown senders
// ever wait. Real MTAs retry (RFC 5321 §4.5.4.1); most spam engines do not.
// In memory, bounded, thread-safe; a restart only means greylisting again.
#pragma once
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/ip_network.hpp"

namespace tern::abuse {

struct GreylistSettings {
  std::chrono::seconds delay{300};
  std::chrono::seconds retry_window{4 * 3600};
  std::chrono::seconds whitelist_lifetime{36 * 86400};
  std::size_t max_entries = 200'000;
};

// The network a client is greylisted as: its IPv4 /24 or IPv6 /64, because
// big senders retry from another address of the same pool.
std::string greylist_network(const IpAddress& ip);

class Greylist {
 public:
  using Clock = std::chrono::system_clock;
  explicit Greylist(GreylistSettings settings) : settings_(settings) {}
  void configure(GreylistSettings settings) {
    std::lock_guard lock(mu_);
    settings_ = settings;
  }

  enum class Verdict { pass, defer };
  // For one recipient. A deferral remembers the triplet's first attempt.
  Verdict check(const std::string& network, std::string_view sender, std::string_view recipient,
                Clock::time_point now);
  // The client delivered a message: it skips greylisting from now on.
  void whitelist(const std::string& network, Clock::time_point now);
  // Seconds the triplet must still wait (for the 451 text); 0 when none.
  std::int64_t remaining(const std::string& network, std::string_view sender, std::string_view recipient,
                         Clock::time_point now) const;
  std::size_t entries() const;

 private:
  static std::string triplet(const std::string& network, std::string_view sender, std::string_view recipient);
  void prune_locked(Clock::time_point now);

  GreylistSettings settings_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Clock::time_point> first_seen_;  // triplet -> first attempt
  std::unordered_map<std::string, Clock::time_point> whitelist_;   // network -> expiry
};

}  // namespace tern::abuse
