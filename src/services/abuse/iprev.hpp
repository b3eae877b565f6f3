// Forward-confirmed reverse DNS of the client (RFC 8601 §3 "iprev"): the PTR
// names of its address, and whether one of them resolves back to it. Recorded
// in Authentication-Results; Tern does not refuse mail on it alone (many
// legitimate small senders lack it), but filters and humans can see it.
#pragma once
#include <functional>
#include <string>

#include "base/ip_network.hpp"
#include "services/dns/resolver.hpp"

namespace tern::abuse {

struct IprevOutcome {
  std::string result = "temperror";  // pass | fail | temperror | permerror (RFC 8601 §2.7.3)
  std::string name;                  // the confirming name (pass) or the first PTR name
};

// "192.0.2.1" -> "1.2.0.192.in-addr.arpa"; IPv6 as nibbles under ip6.arpa.
std::string reverse_name(const IpAddress& ip);

// At most 10 PTR names are tried (like RFC 7208 §4.6.4's limit). `done` runs
// once, on the resolver's callback thread or inline.
void check_iprev(dns::Resolver& resolver, const IpAddress& ip, std::function<void(IprevOutcome)> done);

}  // namespace tern::abuse
