// SPF evaluation (RFC 7208 §2.3, §2.4, §4, §5, §6): check_host() over the
// asynchronous dns::Resolver, for the MAIL FROM and the HELO identity. No
// sockets, threads or timers of its own: every step runs in a resolver
// callback, and the state of an evaluation lives on the heap until the last
// answer it waits for has arrived.
//
// Threading: `done` runs exactly once, on the thread that delivered the last
// DNS answer (UnboundResolver: its process() thread), or inside the call
// itself when the resolver answers inline (a fake, a stopped resolver) or no
// lookup is needed. The Resolver must outlive every evaluation in progress.
// At most one lookup of an evaluation is outstanding at any time.
//
// Limits (§4.6.4): at most 10 mechanisms and modifiers that cause DNS
// lookups (include, a, mx, ptr, exists, redirect) per evaluation, more is
// permerror; more than 10 MX records for one mx mechanism is permerror; only
// the first 10 PTR names are looked at (ptr, %{p}); more than 2 void lookups
// (NXDOMAIN or no data) is permerror. The wall-clock cap (§4.6.4: "at least
// 20 seconds") is checked whenever an answer arrives: an evaluation that has
// run longer ends with temperror. The per-lookup timeout of the Resolver
// bounds the wait for any single answer.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "base/ip_network.hpp"
#include "services/auth_results.hpp"
#include "services/dns/resolver.hpp"

namespace tern::spf {

struct SpfRequest {
  IpAddress ip;               // the SMTP client (IPv4-mapped IPv6 is treated as IPv4, §5)
  std::string helo;           // the HELO/EHLO argument
  std::string sender;         // MAIL FROM address without <>; empty for the null reverse-path
  std::string receiver_host;  // this host's name, for the %{r} macro in explanations
};

struct SpfOutcome {
  auth::SpfResult result = auth::SpfResult::none;
  // The explanation the domain published with exp= (§6.2), macro-expanded;
  // only for fail, and empty when there is none (the caller then uses its
  // own default text).
  std::string explanation;
  std::string identity;  // "mailfrom" or "helo" (RFC 8601 §2.7.2 smtp.mailfrom / smtp.helo)
  std::string domain;    // the domain check_host() started with
  std::string sender;    // <sender> as evaluated: "postmaster@HELO" for a null reverse-path
  std::string detail;    // what decided the result, for the log and an Authentication-Results comment
};

struct SpfSettings {
  std::chrono::milliseconds time_limit{20000};  // §4.6.4: the wall-clock cap
  unsigned max_dns_terms = 10;                  // §4.6.4
  unsigned max_void_lookups = 2;                // §4.6.4
  // Seconds since the epoch for the %{t} macro; empty: the system clock.
  std::function<std::int64_t()> now;
};

using SpfCallback = std::function<void(SpfOutcome)>;

// The MAIL FROM identity (RFC 7208 §2.4): check_host(ip, domain of
// request.sender, request.sender). With an empty sender (the null
// reverse-path) the identity is postmaster@HELO; the outcome still says
// identity "mailfrom", with domain = the HELO name. A sender without a
// local-part gets "postmaster" (§4.3).
void check_spf(dns::Resolver& resolver, SpfRequest request, SpfCallback done, SpfSettings settings = {});

// The HELO identity (RFC 7208 §2.3): check_host(ip, HELO, postmaster@HELO).
// A HELO that is not a multi-label domain name (an address literal, a bare
// word) gives none without any lookup.
void check_spf_helo(dns::Resolver& resolver, SpfRequest request, SpfCallback done, SpfSettings settings = {});

// RFC 7208 §4.3: is `domain` usable as <domain>? Not empty, at most 253
// characters (a trailing dot ignored), at least two labels, every label 1..63
// characters, printable ASCII, not an address literal ("[...]").
bool valid_spf_domain(std::string_view domain);

}  // namespace tern::spf
