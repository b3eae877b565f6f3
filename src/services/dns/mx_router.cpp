#include "services/dns/mx_router.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <mutex>
#include <optional>
#include <random>
#include <set>

#include "base/strings.hpp"

namespace tern::dns {
namespace {

using Settings = MxRouterSettings;
using Done = std::function<void(Result<Route>)>;

std::size_t default_random_below(std::size_t n) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
}

// --- CNAME chasing ---------------------------------------------------------
// RFC 5321 §5.1: "If a CNAME record is found, the resulting name is processed
// as if it were the initial name." libunbound follows CNAMEs itself, but an
// answer may stop at the CNAME (a static zone does not chase into another
// zone, and a Resolver need not either): then the target is asked again.

struct Chased {
  DnsAnswer answer;
  std::string name;                // the name the answer is about (end of the chain)
  std::vector<std::string> chain;  // every CNAME target followed
  std::string failure;             // a loop or an overlong chain; answer is then unusable
};

struct ChaseState {
  Resolver* resolver;
  RrType type;
  std::size_t limit;
  std::vector<std::string> chain;
  std::set<std::string> seen;
  std::function<void(Chased)> done;
};

void chase_step(std::shared_ptr<ChaseState> st, std::string name) {
  Resolver* resolver = st->resolver;
  RrType type = st->type;
  resolver->lookup(name, type, [st = std::move(st), name](DnsAnswer a) mutable {
    auto finish = [&](Chased c) {
      auto done = std::move(st->done);
      done(std::move(c));
    };
    for (const auto& target : a.cname_chain) {
      st->chain.push_back(target);
      std::string failure;
      if (!st->seen.insert(canonical_name(target)).second)
        failure = "CNAME loop at " + target;
      else if (st->chain.size() > st->limit)
        failure = fmt::format("CNAME chain longer than {}", st->limit);
      if (!failure.empty()) {
        a.status = DnsStatus::temporary;
        return finish(Chased{std::move(a), target, std::move(st->chain), std::move(failure)});
      }
    }
    std::string last = a.cname_chain.empty() ? name : a.cname_chain.back();
    if (a.status == DnsStatus::nodata && !a.cname_chain.empty()) return chase_step(std::move(st), std::move(last));
    finish(Chased{std::move(a), std::move(last), std::move(st->chain), {}});
  });
}

void chase(Resolver& resolver, const std::string& name, RrType type, std::size_t limit,
           std::function<void(Chased)> done) {
  auto st =
      std::make_shared<ChaseState>(ChaseState{&resolver, type, limit, {}, {canonical_name(name)}, std::move(done)});
  chase_step(std::move(st), name);
}

// --- one route() call ------------------------------------------------------

std::string safe(std::string_view domain) { return log_escape(domain, 255); }

class RouteJob : public std::enable_shared_from_this<RouteJob> {
 public:
  RouteJob(Resolver& resolver, std::shared_ptr<const Settings> settings, std::string domain, Done done)
      : resolver_(resolver), settings_(std::move(settings)), done_(std::move(done)) {
    route_.domain = canonical_name(domain);
  }

  void start() {
    const std::string& d = route_.domain;
    if (d == "." || d.empty()) return fail(true, "5.1.2 Invalid domain name", "empty domain");
    if (d.front() == '[') return address_literal();
    auto self = shared_from_this();
    chase(resolver_, d, RrType::mx, settings_->max_cname_chain, [self](Chased c) { self->on_mx(std::move(c)); });
  }

 private:
  struct Host {
    std::string name;
    std::uint16_t preference = 0;
    std::vector<IpAddress> v4, v6;
    bool temporary = false;
    bool secure = true;
  };

  // RFC 5321 §4.1.3 and §5.1: an address literal names the host directly.
  void address_literal() {
    const std::string& d = route_.domain;
    std::string_view inner(d);
    if (inner.size() < 3 || inner.back() != ']') return fail(true, "5.1.2 Invalid address literal", "unclosed [");
    inner = inner.substr(1, inner.size() - 2);
    std::optional<IpAddress> ip;
    if (istarts_with(inner, "ipv6:")) {
      ip = IpAddress::parse(inner.substr(5));
      if (ip && !ip->v6) ip.reset();  // IPv4-mapped: not an IPv6 literal
    } else {
      ip = IpAddress::parse(inner);
      if (ip && ip->v6) ip.reset();  // IPv6 needs the "IPv6:" tag
    }
    if (!ip) return fail(true, "5.1.2 Invalid address literal", "unparsable address literal");
    if (is_local(*ip))
      return fail(true, fmt::format("5.4.6 Mail for {} loops back to myself", safe(d)), "literal is ours");
    route_.implicit_mx = true;
    route_.hosts.push_back(RouteHost{d, 0, {*ip}, false});
    succeed();
  }

  void on_mx(Chased c) {
    const std::string& d = route_.domain;
    route_.cname_chain = c.chain;
    route_.mx_secure = c.answer.secure;
    if (!c.failure.empty())
      return fail(false, fmt::format("4.4.3 DNS problem for {}: {}", safe(d), c.failure), c.failure);
    switch (c.answer.status) {
      case DnsStatus::temporary:
        return fail(false, fmt::format("4.4.3 DNS lookup for {} failed temporarily", safe(d)),
                    "MX lookup: " + c.answer.detail);
      case DnsStatus::permanent_error:
        return fail(true, fmt::format("5.1.2 Invalid domain name {}", safe(d)), "MX lookup: " + c.answer.detail);
      case DnsStatus::nxdomain:
        // RFC 3463 X.1.2: the destination system does not exist.
        return fail(true, fmt::format("5.1.2 Domain {} not found", safe(d)),
                    c.chain.empty() ? "NXDOMAIN" : "NXDOMAIN for CNAME target " + c.name);
      case DnsStatus::nodata:
        // RFC 5321 §5.1: no MX records: the name itself is an implicit MX
        // with preference 0 (the end of the CNAME chain, if any).
        route_.implicit_mx = true;
        return resolve_hosts({MxRecord{0, c.name}});
      case DnsStatus::ok: break;
    }
    auto mx = c.answer.records_of<MxRecord>();
    if (mx.empty()) {  // "ok" without MX records breaks the Resolver contract: treat as none
      route_.implicit_mx = true;
      return resolve_hosts({MxRecord{0, c.name}});
    }
    // RFC 7505 §3: a single MX "0 ." says the domain accepts no mail. A set
    // made only of "." exchanges means the same, whatever the preference.
    if (std::all_of(mx.begin(), mx.end(), [](const MxRecord& r) { return r.exchange == "."; }))
      return fail(true, "5.1.10 Domain does not accept mail (null MX, RFC 7505)", "null MX for " + route_.domain);
    // RFC 7505 §3: a null MX must be the only MX; a "." among others cannot
    // be delivered to, so it is dropped.
    std::erase_if(mx, [this](const MxRecord& r) {
      if (r.exchange != ".") return false;
      note("ignored null MX among other MX records");
      return true;
    });
    // RFC 5321 §5.1: lower preference first; equal preferences in random
    // order, to spread the load.
    std::stable_sort(mx.begin(), mx.end(),
                     [](const MxRecord& a, const MxRecord& b) { return a.preference < b.preference; });
    auto random_below = settings_->random_below ? settings_->random_below : default_random_below;
    for (std::size_t b = 0; b < mx.size();) {
      std::size_t e = b;
      while (e < mx.size() && mx[e].preference == mx[b].preference) ++e;
      for (std::size_t i = e - 1; i > b; --i) std::swap(mx[i], mx[b + random_below(i - b + 1) % (i - b + 1)]);
      b = e;
    }
    // The same host twice: keep its best (first) place.
    std::set<std::string> seen;
    std::erase_if(mx, [&](const MxRecord& r) { return !seen.insert(canonical_name(r.exchange)).second; });
    resolve_hosts(std::move(mx));
  }

  void resolve_hosts(std::vector<MxRecord> mx) {
    // RFC 5321 §5.1: if we are one of the MX hosts, only hosts strictly more
    // preferred than us may be used ("MUST discard ... equal or greater").
    for (const auto& r : mx)
      if (is_local_name(r.exchange)) {
        self_preference_ = r.preference;
        note("MX " + r.exchange + " is this server");
        break;  // the list is sorted: the first one found is the best
      }
    if (self_preference_) {
      std::erase_if(mx, [&](const MxRecord& r) { return r.preference >= *self_preference_; });
      if (mx.empty())
        return fail(true, fmt::format("5.4.6 Mail for {} loops back to myself", safe(route_.domain)),
                    "the best MX is this server");
    }
    if (mx.size() > settings_->max_mx_hosts) {
      note(fmt::format("only the first {} of {} MX hosts are used", settings_->max_mx_hosts, mx.size()));
      mx.resize(settings_->max_mx_hosts);
    }
    std::vector<RrType> types;
    switch (settings_->address_order) {
      case AddressOrder::ipv4_first:
      case AddressOrder::ipv6_first: types = {RrType::a, RrType::aaaa}; break;
      case AddressOrder::ipv4_only: types = {RrType::a}; break;
      case AddressOrder::ipv6_only: types = {RrType::aaaa}; break;
    }
    std::vector<std::string> names;
    {
      std::lock_guard lock(mu_);
      for (auto& r : mx) {
        hosts_.push_back(Host{r.exchange, r.preference, {}, {}, false, true});
        names.push_back(r.exchange);
      }
      // Counted before the first lookup goes out: an answer may come back
      // inline, and the last one must see every lookup accounted for.
      outstanding_ = names.size() * types.size();
    }
    auto self = shared_from_this();
    for (std::size_t i = 0; i < names.size(); ++i)
      for (RrType t : types)
        chase(resolver_, names[i], t, settings_->max_cname_chain,
              [self, i, t](Chased c) { self->on_address(i, t, std::move(c)); });
  }

  void on_address(std::size_t i, RrType type, Chased c) {
    {
      std::lock_guard lock(mu_);
      Host& h = hosts_[i];
      h.secure = h.secure && c.answer.secure;
      std::string_view what = to_string(type);
      if (!c.failure.empty()) {
        h.temporary = true;
        note_locked(fmt::format("{} {}: {}", h.name, what, c.failure));
      } else if (c.answer.status == DnsStatus::ok) {
        for (const auto& ip : c.answer.records_of<IpAddress>()) (ip.v6 ? h.v6 : h.v4).push_back(ip);
      } else {
        if (c.answer.status == DnsStatus::temporary) h.temporary = true;
        note_locked(fmt::format("{} {}: {}{}{}", h.name, what, to_string(c.answer.status),
                                c.answer.detail.empty() ? "" : " ", c.answer.detail));
      }
      if (--outstanding_ != 0) return;
    }
    finish();  // the last answer: no other callback touches the job any more
  }

  void finish() {
    // Postfix (smtp_addr.c) also recognises itself by address: an MX host
    // whose address is ours counts as this server.
    for (const auto& h : hosts_) {
      bool ours = std::any_of(h.v4.begin(), h.v4.end(), [&](const IpAddress& a) { return is_local(a); }) ||
                  std::any_of(h.v6.begin(), h.v6.end(), [&](const IpAddress& a) { return is_local(a); });
      if (ours && (!self_preference_ || h.preference < *self_preference_)) {
        self_preference_ = h.preference;
        note("MX " + h.name + " has an address of this server");
      }
    }
    bool better_hosts_existed = false;
    bool any_temporary = false;
    for (const auto& h : hosts_) {
      if (self_preference_ && h.preference >= *self_preference_) continue;
      better_hosts_existed = true;
      any_temporary = any_temporary || h.temporary;
      if (h.v4.empty() && h.v6.empty()) continue;  // skipped: no address
      RouteHost rh{h.name, h.preference, {}, h.secure};
      bool v6_first = settings_->address_order == AddressOrder::ipv6_first;
      const auto& first = v6_first ? h.v6 : h.v4;
      const auto& second = v6_first ? h.v4 : h.v6;
      rh.addresses.insert(rh.addresses.end(), first.begin(), first.end());
      rh.addresses.insert(rh.addresses.end(), second.begin(), second.end());
      route_.hosts.push_back(std::move(rh));
    }
    if (!route_.hosts.empty()) return succeed();
    const std::string d = safe(route_.domain);
    if (self_preference_ && better_hosts_existed)
      // Postfix: the hosts that should relay to us are missing for now.
      return fail(false, fmt::format("4.4.3 Unable to find primary relay for {}", d),
                  "better MX hosts have no address");
    if (self_preference_) return fail(true, fmt::format("5.4.6 Mail for {} loops back to myself", d), "");
    if (any_temporary)
      return fail(false, fmt::format("4.4.3 DNS lookup of the mail servers of {} failed temporarily", d), "");
    if (route_.implicit_mx)
      // RFC 5321 §5.1: the implicit MX is unusable, "MUST be reported as an error".
      return fail(true, fmt::format("5.1.2 Domain {} has no mail server (no MX, A or AAAA record)", d), "");
    // RFC 3463 X.4.4 "unable to route", as Postfix reports it.
    fail(true, fmt::format("5.4.4 No mail server of {} has an address", d), "");
  }

  bool is_local_name(std::string_view name) const {
    return std::any_of(settings_->local_names.begin(), settings_->local_names.end(),
                       [&](const std::string& n) { return same_name(n, name); });
  }
  bool is_local(const IpAddress& ip) const {
    return std::find(settings_->local_addresses.begin(), settings_->local_addresses.end(), ip) !=
           settings_->local_addresses.end();
  }

  void note(std::string text) {
    std::lock_guard lock(mu_);
    note_locked(std::move(text));
  }
  void note_locked(std::string text) {
    if (!notes_.empty()) notes_ += "; ";
    notes_ += text;
  }

  void succeed() {
    auto done = std::move(done_);
    done(std::move(route_));
  }

  void fail(bool permanent, std::string client_text, std::string detail) {
    std::string full = fmt::format("domain={} {}", safe(route_.domain), detail);
    {
      std::lock_guard lock(mu_);
      if (!notes_.empty()) full += (detail.empty() ? "" : "; ") + notes_;
    }
    auto done = std::move(done_);
    done(std::unexpected(permanent ? Error::permanent_failure(std::move(client_text), std::move(full))
                                   : Error::temporary(std::move(client_text), std::move(full))));
  }

  Resolver& resolver_;
  std::shared_ptr<const Settings> settings_;
  Done done_;
  Route route_;
  std::optional<std::uint16_t> self_preference_;
  std::mutex mu_;  // guards hosts_, outstanding_ and notes_ while address answers arrive
  std::vector<Host> hosts_;
  std::size_t outstanding_ = 0;
  std::string notes_;
};

}  // namespace

MxRouter::MxRouter(Resolver& resolver, MxRouterSettings settings)
    : resolver_(resolver), settings_(std::make_shared<const MxRouterSettings>(std::move(settings))) {}

void MxRouter::route(std::string domain, std::function<void(Result<Route>)> done) const {
  std::make_shared<RouteJob>(resolver_, settings_, std::move(domain), std::move(done))->start();
}

std::pair<std::string_view, std::string_view> split_status(std::string_view text) {
  // RFC 3463 §2: class "." subject "." detail, 1-3 digits each after the class.
  auto digits = [&](std::size_t& p) {
    std::size_t start = p;
    while (p < text.size() && p - start < 4 && text[p] >= '0' && text[p] <= '9') ++p;
    return p > start && p - start <= 3;
  };
  std::size_t p = 0;
  if (text.empty() || (text[0] != '2' && text[0] != '4' && text[0] != '5')) return {{}, text};
  p = 1;
  if (p >= text.size() || text[p++] != '.' || !digits(p)) return {{}, text};
  if (p >= text.size() || text[p++] != '.' || !digits(p)) return {{}, text};
  if (p < text.size() && text[p] != ' ') return {{}, text};
  auto status = text.substr(0, p);
  return {status, p < text.size() ? text.substr(p + 1) : std::string_view{}};
}

}  // namespace tern::dns
