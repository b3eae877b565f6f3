#include "services/abuse/iprev.hpp"

#include <fmt/format.h>

#include <memory>
#include <mutex>

namespace tern::abuse {

std::string reverse_name(const IpAddress& ip) {
  if (!ip.v6) return fmt::format("{}.{}.{}.{}.in-addr.arpa", ip.bytes[3], ip.bytes[2], ip.bytes[1], ip.bytes[0]);
  static constexpr char hex[] = "0123456789abcdef";
  std::string name;
  for (int i = 15; i >= 0; --i) {
    name += hex[ip.bytes[i] & 0xf];
    name += '.';
    name += hex[ip.bytes[i] >> 4];
    name += '.';
  }
  return name + "ip6.arpa";
}

void check_iprev(dns::Resolver& resolver, const IpAddress& ip, std::function<void(IprevOutcome)> done) {
  resolver.lookup(reverse_name(ip), dns::RrType::ptr, [&resolver, ip, done = std::move(done)](dns::DnsAnswer ptr) {
    if (ptr.status == dns::DnsStatus::temporary) return done({"temperror", ""});
    if (ptr.status != dns::DnsStatus::ok) return done({"fail", ""});  // no PTR: nothing to confirm
    auto names = ptr.records_of<dns::PtrRecord>();
    if (names.size() > 10) names.resize(10);
    if (names.empty()) return done({"fail", ""});
    struct State {
      std::mutex mu;
      std::size_t left;
      bool temporary = false;
      std::string confirmed;
      std::string first;
      std::function<void(IprevOutcome)> done;
    };
    auto st = std::make_shared<State>();
    st->left = names.size();
    st->first = names.front().target;
    st->done = done;
    for (const auto& n : names) {
      std::string name = n.target;
      resolver.lookup(name, ip.v6 ? dns::RrType::aaaa : dns::RrType::a, [st, ip, name](dns::DnsAnswer a) {
        std::function<void(IprevOutcome)> finish;
        IprevOutcome out;
        {
          std::lock_guard lock(st->mu);
          if (a.status == dns::DnsStatus::temporary) st->temporary = true;
          for (const auto& addr : a.records_of<IpAddress>())
            if (addr == ip && st->confirmed.empty()) st->confirmed = name;
          if (--st->left != 0) return;
          if (!st->confirmed.empty()) out = {"pass", st->confirmed};
          else out = {st->temporary ? "temperror" : "fail", st->first};
          finish = std::move(st->done);
        }
        finish(std::move(out));
      });
    }
  });
}

}  // namespace tern::abuse
