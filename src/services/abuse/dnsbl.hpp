// DNS blocklists (RFC 5782): is the client's address listed in an IP
// blocklist (DNSBL), or the sender's domain in a domain one (RHSBL)? The
// question is an A lookup of the reversed address (or the domain) under the
// list's zone; any 127.0.0.0/8 answer means listed, except 127.255.255.0/24,
// which Spamhaus and others use for "query refused" rather than a listing.
// Asynchronous over dns::Resolver; nothing here blocks.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/ip_network.hpp"
#include "services/dns/resolver.hpp"

namespace tern::abuse {

// "192.0.2.99" under "bl.example" -> "99.2.0.192.bl.example"; IPv6 as 32
// reversed nibbles (RFC 5782 §2.4).
std::string dnsbl_query_name(const IpAddress& ip, std::string_view zone);
// RFC 5782 §2.2: the domain itself under the zone.
std::string rhsbl_query_name(std::string_view domain, std::string_view zone);
// Whether an answer address means "listed" (see above).
bool is_listing(const IpAddress& answer);

struct DnsblHit {
  std::string zone;
  std::string answer;  // the first listing address, e.g. "127.0.0.2"
};

// Looks up every zone at once; `done` gets the zones that list the name, in
// the order of `zones`. DNS failures count as not listed (a broken list must
// not stop mail). `done` runs once, on the resolver's callback thread (or
// inline when there is nothing to ask).
void check_dnsbl(dns::Resolver& resolver, const IpAddress& ip, const std::vector<std::string>& zones,
                 std::function<void(std::vector<DnsblHit>)> done);
void check_rhsbl(dns::Resolver& resolver, std::string_view domain, const std::vector<std::string>& zones,
                 std::function<void(std::vector<DnsblHit>)> done);

}  // namespace tern::abuse
