// A scripted Resolver for routing tests: answers from a table, inline or
// later (deferred, in any order), and records every question asked.
#pragma once
#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "services/dns/resolver.hpp"

namespace tern::dns::testing {

class FakeResolver : public Resolver {
 public:
  using Key = std::pair<std::string, RrType>;

  void lookup(std::string name, RrType type, Callback done) override {
    Key key{canonical_name(name), type};
    asked.push_back(key);
    DnsAnswer answer = answer_for(key);
    if (deferred) {
      queue.emplace_back([done = std::move(done), answer = std::move(answer)]() mutable { done(std::move(answer)); });
    } else {
      done(std::move(answer));
    }
  }

  // Runs deferred answers until none is left; `reverse` answers the newest first.
  void run(bool reverse = false) {
    while (!queue.empty()) {
      std::function<void()> next;
      if (reverse) {
        next = std::move(queue.back());
        queue.pop_back();
      } else {
        next = std::move(queue.front());
        queue.pop_front();
      }
      next();
    }
  }

  // --- the zone ----------------------------------------------------------
  void mx(const std::string& name, std::vector<MxRecord> records, bool secure = false) {
    DnsAnswer a = ok(secure);
    for (auto& r : records) a.records.emplace_back(std::move(r));
    set(name, RrType::mx, std::move(a));
  }
  void a(const std::string& name, std::vector<std::string> addresses, bool secure = false) {
    addresses_of(name, RrType::a, std::move(addresses), secure);
  }
  void aaaa(const std::string& name, std::vector<std::string> addresses, bool secure = false) {
    addresses_of(name, RrType::aaaa, std::move(addresses), secure);
  }
  // A CNAME answered the way a static zone does: only the CNAME, for any type.
  void cname(const std::string& name, const std::string& target) { cnames[canonical_name(name)] = target; }
  void status(const std::string& name, RrType type, DnsStatus s, std::string detail = "") {
    DnsAnswer a;
    a.status = s;
    a.detail = std::move(detail);
    set(name, type, std::move(a));
  }
  void set(const std::string& name, RrType type, DnsAnswer a) {
    exists.insert(canonical_name(name));
    table[{canonical_name(name), type}] = std::move(a);
  }

  std::size_t count(const std::string& name, RrType type) const {
    return static_cast<std::size_t>(std::count(asked.begin(), asked.end(), Key{canonical_name(name), type}));
  }

  bool deferred = false;
  std::vector<Key> asked;
  std::deque<std::function<void()>> queue;

 private:
  static DnsAnswer ok(bool secure) {
    DnsAnswer a;
    a.status = DnsStatus::ok;
    a.ttl = 300;
    a.secure = secure;
    return a;
  }
  void addresses_of(const std::string& name, RrType type, std::vector<std::string> addresses, bool secure) {
    DnsAnswer a = ok(secure);
    for (const auto& s : addresses) a.records.emplace_back(*IpAddress::parse(s));
    set(name, type, std::move(a));
  }
  // Unknown names do not exist; known names without the type have no data.
  DnsAnswer answer_for(const Key& key) const {
    if (auto c = cnames.find(key.first); c != cnames.end()) {
      DnsAnswer a;
      a.status = DnsStatus::nodata;
      a.cname_chain = {c->second};
      return a;
    }
    if (auto it = table.find(key); it != table.end()) return it->second;
    DnsAnswer a;
    a.status = exists.contains(key.first) ? DnsStatus::nodata : DnsStatus::nxdomain;
    return a;
  }

  std::map<Key, DnsAnswer> table;
  std::map<std::string, std::string> cnames;
  std::set<std::string> exists;
};

}  // namespace tern::dns::testing
