// The server-wide counters behind [limits] and [checks] greylisting, shared by
// every session (thread-safe), and the per-connection view a session's
// services consult: who the client is, whether the checks apply to it, and
// what a limit says. Replies are decided here so the wording is one place.
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "base/config.hpp"
#include "protocol/smtp/reply.hpp"
#include "services/abuse/greylist.hpp"
#include "services/abuse/rate_limiter.hpp"

namespace tern::abuse {

struct AbuseControls {
  RateLimiter ip_connections_rate;
  RateLimiter ip_messages;
  RateLimiter ip_recipients;
  RateLimiter user_messages;
  RateLimiter user_recipients;
  ConnectionCounter ip_connections;
  // One table for the server's life; configure() applies a reloaded delay.
  Greylist greylist{GreylistSettings{}};
};

bool in_trusted_network(const Config& config, std::string_view client_ip);

// What one connection may do, judged against `controls`. checks: the
// listener has checks on and the client is not in trusted_networks.
class ClientPolicy {
 public:
  // limits and greylisting: what applies on the client's listener.
  ClientPolicy(AbuseControls* controls, LimitsConfig limits, bool greylisting, std::string client_ip, bool checks);

  bool checks() const { return checks_; }
  // MAIL: a reply refuses it (blocklisted client, message rates).
  std::optional<smtp::Reply> on_mail(const std::string& auth_user);
  // RCPT of an otherwise acceptable recipient: rate_limited / greylisted / ok.
  enum class RcptVerdict { ok, rate_limited, greylisted };
  RcptVerdict on_recipient(const std::string& auth_user, std::string_view sender, std::string_view recipient);
  // A message was accepted: the client passed greylisting for good.
  void on_accepted();
  // A DNSBL listed the client and [checks] dnsbl_action is "reject".
  void block(smtp::Reply reply) { block_ = std::move(reply); }

 private:
  AbuseControls* controls_;
  LimitsConfig limits_;
  bool greylisting_;
  std::string ip_;
  std::string network_;  // greylisting's /24 or /64
  bool checks_;
  std::optional<smtp::Reply> block_;
};

}  // namespace tern::abuse
