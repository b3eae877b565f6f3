#include "services/abuse/abuse_controls.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace tern::abuse {
namespace {
using namespace std::chrono_literals;
constexpr RateLimit per_minute(unsigned n) { return RateLimit{n, 60s}; }
constexpr RateLimit per_hour(unsigned n) { return RateLimit{n, 3600s}; }
}  // namespace

bool in_trusted_network(const Config& config, std::string_view client_ip) {
  auto ip = IpAddress::parse(client_ip);
  if (!ip) return false;
  for (const auto& net : config.smtp.trusted_networks)
    if (net.contains(*ip)) return true;
  return false;
}

ClientPolicy::ClientPolicy(AbuseControls* controls, LimitsConfig limits, bool greylisting, std::string client_ip,
                           bool checks)
    : controls_(controls), limits_(limits), greylisting_(greylisting), ip_(std::move(client_ip)), checks_(checks) {
  if (auto ip = IpAddress::parse(ip_)) network_ = greylist_network(*ip);
}

std::optional<smtp::Reply> ClientPolicy::on_mail(const std::string& auth_user) {
  if (!controls_) return std::nullopt;
  const auto& l = limits_;
  if (!auth_user.empty()) {
    if (!controls_->user_messages.try_acquire(auth_user, per_hour(l.messages_per_user), Clock::now())) {
      spdlog::warn("event=rate_limited what=messages_per_user user=\"{}\" limit={}", auth_user, l.messages_per_user);
      return smtp::Reply{451, "4.7.1",
                         fmt::format("Error: more than {} messages in an hour from {}, try again later",
                                     l.messages_per_user, auth_user)};
    }
    return std::nullopt;
  }
  if (block_) return block_;
  if (checks_ && !controls_->ip_messages.try_acquire(ip_, per_minute(l.messages_per_ip), Clock::now())) {
    spdlog::warn("event=rate_limited what=messages_per_ip client={} limit={}", ip_, l.messages_per_ip);
    return smtp::Reply{451, "4.7.1", "Error: too many messages from your address, try again later"};
  }
  return std::nullopt;
}

ClientPolicy::RcptVerdict ClientPolicy::on_recipient(const std::string& auth_user, std::string_view sender,
                                                     std::string_view recipient) {
  if (!controls_) return RcptVerdict::ok;
  const auto& l = limits_;
  if (!auth_user.empty()) {
    if (!controls_->user_recipients.try_acquire(auth_user, per_hour(l.recipients_per_user), Clock::now())) {
      spdlog::warn("event=rate_limited what=recipients_per_user user=\"{}\" limit={}", auth_user,
                   l.recipients_per_user);
      return RcptVerdict::rate_limited;
    }
    return RcptVerdict::ok;
  }
  if (!checks_) return RcptVerdict::ok;
  if (!controls_->ip_recipients.try_acquire(ip_, per_minute(l.recipients_per_ip), Clock::now())) {
    spdlog::warn("event=rate_limited what=recipients_per_ip client={} limit={}", ip_, l.recipients_per_ip);
    return RcptVerdict::rate_limited;
  }
  if (greylisting_ && !network_.empty()) {
    auto verdict = controls_->greylist.check(network_, sender, recipient, Greylist::Clock::now());
    if (verdict == Greylist::Verdict::defer) {
      spdlog::info("event=greylisted client={} from=<{}> to=<{}>", ip_, sender, recipient);
      return RcptVerdict::greylisted;
    }
  }
  return RcptVerdict::ok;
}

void ClientPolicy::on_accepted() {
  if (controls_ && checks_ && greylisting_ && !network_.empty())
    controls_->greylist.whitelist(network_, Greylist::Clock::now());
}

}  // namespace tern::abuse
