#include "services/abuse/dnsbl.hpp"

#include <fmt/format.h>

#include <memory>
#include <mutex>

namespace tern::abuse {
namespace {

std::string strip_dots(std::string_view s) {
  while (!s.empty() && s.front() == '.') s.remove_prefix(1);
  while (!s.empty() && s.back() == '.') s.remove_suffix(1);
  return std::string(s);
}

// Asks every name at once and reports the listed ones in zone order.
void ask_all(dns::Resolver& resolver, std::vector<std::pair<std::string, std::string>> queries,
             std::function<void(std::vector<DnsblHit>)> done) {
  if (queries.empty()) return done({});
  struct State {
    std::mutex mu;
    std::vector<std::optional<DnsblHit>> hits;
    std::size_t left = 0;
    std::function<void(std::vector<DnsblHit>)> done;
  };
  auto st = std::make_shared<State>();
  st->hits.resize(queries.size());
  st->left = queries.size();
  st->done = std::move(done);
  for (std::size_t i = 0; i < queries.size(); ++i) {
    std::string zone = queries[i].second;
    resolver.lookup(queries[i].first, dns::RrType::a, [st, i, zone](dns::DnsAnswer answer) {
      std::function<void(std::vector<DnsblHit>)> finish;
      std::vector<DnsblHit> out;
      {
        std::lock_guard lock(st->mu);
        if (answer.status == dns::DnsStatus::ok)
          for (const auto& a : answer.records_of<IpAddress>())
            if (is_listing(a)) {
              st->hits[i] = DnsblHit{zone, a.to_string()};
              break;
            }
        if (--st->left != 0) return;
        for (auto& h : st->hits)
          if (h) out.push_back(std::move(*h));
        finish = std::move(st->done);
      }
      finish(std::move(out));
    });
  }
}

}  // namespace

std::string dnsbl_query_name(const IpAddress& ip, std::string_view zone) {
  std::string name;
  if (!ip.v6) {
    name = fmt::format("{}.{}.{}.{}", ip.bytes[3], ip.bytes[2], ip.bytes[1], ip.bytes[0]);
  } else {
    static constexpr char hex[] = "0123456789abcdef";
    for (int i = 15; i >= 0; --i) {
      if (!name.empty()) name += '.';
      name += hex[ip.bytes[i] & 0xf];
      name += '.';
      name += hex[ip.bytes[i] >> 4];
    }
  }
  return name + "." + strip_dots(zone);
}

std::string rhsbl_query_name(std::string_view domain, std::string_view zone) {
  return strip_dots(domain) + "." + strip_dots(zone);
}

bool is_listing(const IpAddress& a) {
  if (a.v6 || a.bytes[0] != 127) return false;
  return !(a.bytes[1] == 255 && a.bytes[2] == 255);
}

void check_dnsbl(dns::Resolver& resolver, const IpAddress& ip, const std::vector<std::string>& zones,
                 std::function<void(std::vector<DnsblHit>)> done) {
  std::vector<std::pair<std::string, std::string>> q;
  for (const auto& z : zones) q.emplace_back(dnsbl_query_name(ip, z), z);
  ask_all(resolver, std::move(q), std::move(done));
}

void check_rhsbl(dns::Resolver& resolver, std::string_view domain, const std::vector<std::string>& zones,
                 std::function<void(std::vector<DnsblHit>)> done) {
  std::vector<std::pair<std::string, std::string>> q;
  if (!strip_dots(domain).empty())
    for (const auto& z : zones) q.emplace_back(rhsbl_query_name(domain, z), z);
  ask_all(resolver, std::move(q), std::move(done));
}

}  // namespace tern::abuse
