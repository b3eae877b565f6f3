// Where mail for a domain goes: the MX hosts in the order to try them, each
// with its addresses. RFC 5321 §5.1 (MX, CNAME, implicit MX, equal preferences
// shuffled, never loop to ourselves), RFC 7505 (null MX). Pure routing over
// the Resolver interface: no sockets, no threads, no SMTP; the caller decides
// how to connect, and uses the Error's temporary/permanent to defer or bounce.
//
// Failures (Error::client_text starts with the RFC 3463 status, see
// split_status):
//   domain does not exist (NXDOMAIN)              permanent 5.1.2
//   no MX and no address for the domain           permanent 5.1.2
//   null MX ("0 .")                                permanent 5.1.10
//   MX hosts, but none has an address (all
//     NXDOMAIN/NODATA)                             permanent 5.4.4 (as Postfix)
//   the best MX is this server                     permanent 5.4.6
//   this server is an MX, better ones unresolvable temporary 4.4.3 (as Postfix:
//                                                   "unable to find primary relay")
//   SERVFAIL, timeout, CNAME loop or a chain
//     longer than max_cname_chain                  temporary 4.4.3
// An MX host whose lookups fail is skipped when another one has addresses.
//
// Threading: `done` runs exactly once, on whichever thread delivered the last
// resolver answer the route waited for (UnboundResolver: its process() thread),
// or inside route() itself when the resolver answers inline (a fake, a stopped
// resolver, an address literal). route() may be called from any thread and
// from inside a callback. The Resolver must outlive every route in progress.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.hpp"
#include "base/ip_network.hpp"
#include "services/dns/resolver.hpp"

namespace tern::dns {

// The order of a host's addresses. IPv4 first by default: a sending MTA is
// judged by its PTR record and reputation, which IPv6 senders often lack
// (large receivers hold IPv6 senders to stricter rules), and a host that
// publishes AAAA without listening on it costs a connect timeout per message.
// The other family is still tried after the first, unless *_only.
enum class AddressOrder { ipv4_first, ipv6_first, ipv4_only, ipv6_only };

struct MxRouterSettings {
  std::vector<std::string> local_names;    // this server's host names (compared case-insensitively)
  std::vector<IpAddress> local_addresses;  // addresses this server receives mail on
  AddressOrder address_order = AddressOrder::ipv4_first;
  std::size_t max_mx_hosts = 10;  // at most this many hosts are resolved and returned
  std::size_t max_cname_chain = 8;
  // A uniform number in [0, n), for shuffling equal preferences. Empty: a
  // per-thread std::mt19937_64 seeded from std::random_device. It is called
  // on resolver threads, so an injected one must be thread-safe.
  std::function<std::size_t(std::size_t n)> random_below;
};

struct RouteHost {
  std::string host;  // the MX exchange, or the domain for an implicit MX
  std::uint16_t preference = 0;
  std::vector<IpAddress> addresses;  // in the order to try; never empty
  bool secure = false;               // the address answers used were DNSSEC-validated
};

struct Route {
  std::string domain;                    // canonical: lower-case, no trailing dot
  std::vector<std::string> cname_chain;  // CNAMEs followed from the domain to its MX answer
  bool implicit_mx = false;              // no MX records: the domain's own addresses (RFC 5321 §5.1)
  bool mx_secure = false;                // the MX answer was DNSSEC-validated (DANE, RFC 7672 §2.2)
  std::vector<RouteHost> hosts;          // most preferred first; never empty
};

class MxRouter {
 public:
  MxRouter(Resolver& resolver, MxRouterSettings settings);
  // `domain` is the part after '@' in A-label form, or an address literal
  // ("[192.0.2.1]", "[IPv6:2001:db8::1]", RFC 5321 §4.1.3), which is used as
  // it is, without DNS.
  void route(std::string domain, std::function<void(Result<Route>)> done) const;

 private:
  Resolver& resolver_;
  std::shared_ptr<const MxRouterSettings> settings_;
};

// "5.1.10 Domain does not accept mail" -> {"5.1.10", "Domain does not accept mail"};
// {"", text} when the text does not start with a status.
std::pair<std::string_view, std::string_view> split_status(std::string_view client_text);

}  // namespace tern::dns
