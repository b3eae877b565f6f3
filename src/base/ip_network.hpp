// IPv4/IPv6 addresses and CIDR networks, parsed without the resolver: used for
// trusted_networks and for logging the peer. Pure value types.
#pragma once
#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace tern {

struct IpAddress {
  bool v6 = false;
  std::array<unsigned char, 16> bytes{};  // v4 uses the first 4
  static std::optional<IpAddress> parse(std::string_view text);
  std::string to_string() const;
  bool operator==(const IpAddress&) const = default;
};

struct IpNetwork {
  IpAddress base;
  int prefix = 0;
  // "127.0.0.0/8", "::1/128", or a bare address (a host network).
  static std::optional<IpNetwork> parse(std::string_view text);
  bool contains(const IpAddress& a) const;
};

}  // namespace tern
