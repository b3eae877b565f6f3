#include "services/abuse/greylist.hpp"

#include <fmt/format.h>

#include "base/strings.hpp"

namespace tern::abuse {

std::string greylist_network(const IpAddress& ip) {
  if (!ip.v6) return fmt::format("{}.{}.{}.0/24", ip.bytes[0], ip.bytes[1], ip.bytes[2]);
  IpAddress net = ip;
  for (std::size_t i = 8; i < 16; ++i) net.bytes[i] = 0;
  return net.to_string() + "/64";
}

std::string Greylist::triplet(const std::string& network, std::string_view sender, std::string_view recipient) {
  // Addresses compare case-insensitively in practice (the domain always).
  return network + '\n' + to_lower(sender) + '\n' + to_lower(recipient);
}

Greylist::Verdict Greylist::check(const std::string& network, std::string_view sender, std::string_view recipient,
                                  Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (auto w = whitelist_.find(network); w != whitelist_.end()) {
    if (w->second > now) return Verdict::pass;
    whitelist_.erase(w);
  }
  std::string key = triplet(network, sender, recipient);
  auto it = first_seen_.find(key);
  if (it == first_seen_.end() || now - it->second > settings_.delay + settings_.retry_window) {
    // New, or it never came back in time: the clock starts (again) now.
    if (first_seen_.size() >= settings_.max_entries) prune_locked(now);
    if (first_seen_.size() >= settings_.max_entries) return Verdict::pass;  // flooded: fail open
    first_seen_[key] = now;
    return Verdict::defer;
  }
  return now - it->second >= settings_.delay ? Verdict::pass : Verdict::defer;
}

void Greylist::whitelist(const std::string& network, Clock::time_point now) {
  std::lock_guard lock(mu_);
  whitelist_[network] = now + settings_.whitelist_lifetime;
  if (whitelist_.size() > settings_.max_entries)
    std::erase_if(whitelist_, [&](const auto& kv) { return kv.second <= now; });
}

std::int64_t Greylist::remaining(const std::string& network, std::string_view sender, std::string_view recipient,
                                 Clock::time_point now) const {
  std::lock_guard lock(mu_);
  auto it = first_seen_.find(triplet(network, sender, recipient));
  if (it == first_seen_.end()) return 0;
  auto left = std::chrono::duration_cast<std::chrono::seconds>(it->second + settings_.delay - now).count();
  return left > 0 ? left : 0;
}

std::size_t Greylist::entries() const {
  std::lock_guard lock(mu_);
  return first_seen_.size();
}

void Greylist::prune_locked(Clock::time_point now) {
  auto horizon = settings_.delay + settings_.retry_window;
  std::erase_if(first_seen_, [&](const auto& kv) { return now - kv.second > horizon; });
}

}  // namespace tern::abuse
