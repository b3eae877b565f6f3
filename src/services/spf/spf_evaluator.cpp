// check_host() (RFC 7208 §4-§6) as a chain of resolver callbacks. One
// Evaluation holds what the whole check shares (limits, clock, the client);
// one Frame is one check_host() call on a domain (the top one, or one for an
// include or redirect). Each frame walks its record's mechanisms in order and
// issues one lookup at a time.
#include "services/spf/spf_evaluator.hpp"

#include <fmt/format.h>

#include <ctime>
#include <memory>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "base/strings.hpp"
#include "services/spf/spf_macro.hpp"
#include "services/spf/spf_record.hpp"

namespace tern::spf {
namespace {

using auth::SpfResult;
using dns::DnsAnswer;
using dns::DnsStatus;
using dns::RrType;
using Clock = std::chrono::steady_clock;

constexpr std::size_t max_mx_records = 10;   // §4.6.4
constexpr std::size_t max_ptr_names = 10;    // §4.6.4
constexpr std::size_t max_cname_chain = 8;

std::string safe(std::string_view s) { return log_escape(s, 255); }

// A name for Resolver::lookup in presentation format: bytes outside
// '!'..'~' and the escape character itself become \DDD (RFC 1035 §5.1), so
// a macro expansion with spaces (%_) reaches the server as those bytes.
std::string query_name(std::string_view name) {
  std::string out;
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7e || c == '\\') {
      out += fmt::format("\\{:03}", u);
    } else {
      out += c;
    }
  }
  return out;
}

// A target name after expansion (§4.8): usable for a query? Labels of 1..63
// octets, 253 in all. RFC 7208 leaves an invalid name here undefined; like
// a name that does not exist, it makes the mechanism not match.
bool valid_target(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= name.size(); ++i) {
    if (i < name.size() && name[i] != '.') continue;
    std::size_t len = i - start;
    if (len == 0 || len > 63) return false;
    start = i + 1;
  }
  return true;
}

// Does `name` equal `target` or lie below it (§5.5)? Case-insensitive.
bool at_or_below(std::string_view name, std::string_view target) {
  std::string n = dns::canonical_name(name);
  std::string t = dns::canonical_name(target);
  return n == t || (n.size() > t.size() && n.ends_with(t) && n[n.size() - t.size() - 1] == '.');
}

SpfResult result_of(Qualifier q) {
  switch (q) {
    case Qualifier::pass: return SpfResult::pass;
    case Qualifier::fail: return SpfResult::fail;
    case Qualifier::softfail: return SpfResult::softfail;
    case Qualifier::neutral: return SpfResult::neutral;
  }
  return SpfResult::neutral;
}

// What one check_host() call returns to its caller.
struct Verdict {
  SpfResult result = SpfResult::none;
  std::string reason;
  // §6.2: the exp= of the record whose mechanism decided, and that record's
  // <domain> (for %{d}); passed up through redirect, dropped by include.
  std::optional<std::string> exp_spec;
  std::string exp_domain;
};

// What one mechanism's evaluation gives.
struct Match {
  enum class Kind { no, yes, error } kind = Kind::no;
  SpfResult error = SpfResult::permerror;  // temperror or permerror
  std::string reason;
  static Match no() { return {}; }
  static Match yes() { return {Kind::yes, SpfResult::permerror, {}}; }
  static Match fail(SpfResult r, std::string why) { return {Kind::error, r, std::move(why)}; }
};

class Evaluation : public std::enable_shared_from_this<Evaluation> {
 public:
  Evaluation(dns::Resolver& resolver, SpfSettings settings, IpAddress ip)
      : resolver_(resolver), settings_(std::move(settings)), ip_(ip), deadline_(Clock::now() + settings_.time_limit) {}

  dns::Resolver& resolver_;
  SpfSettings settings_;
  IpAddress ip_;
  MacroValues values_;  // everything but d and p
  Clock::time_point deadline_;
  unsigned dns_terms_ = 0;
  unsigned voids_ = 0;
  bool finished_ = false;
  bool explaining_ = false;  // §6.2 phase: the result is known, the cap no longer applies
  // Set when the wall-clock cap ends the evaluation early.
  std::function<void(Verdict)> on_timeout_;
  // %{p}: the validated names of ip (§5.5 procedure), found once.
  std::optional<std::vector<std::string>> validated_;

  // Resolver::lookup with the wall-clock cap and CNAME chasing: an answer
  // that stops at a CNAME (nodata with a chain) is asked again for the
  // chain's last target, as in mx_router. Callbacks after the end are dropped.
  void lookup(const std::string& name, RrType type, std::function<void(DnsAnswer)> cb) {
    lookup_raw(query_name(name), type, std::make_shared<std::set<std::string>>(), std::move(cb));
  }

  // The same for a name already in presentation format (from the wire).
  void lookup_raw(std::string name, RrType type, std::shared_ptr<std::set<std::string>> seen,
                  std::function<void(DnsAnswer)> cb) {
    seen->insert(dns::canonical_name(name));
    auto self = shared_from_this();
    resolver_.lookup(std::move(name), type,
                     [self, type, seen = std::move(seen), cb = std::move(cb)](DnsAnswer a) mutable {
                       if (self->finished_) return;
                       if (!self->explaining_ && Clock::now() > self->deadline_) return self->finish_timeout();
                       for (const auto& t : a.cname_chain)
                         if (!seen->insert(dns::canonical_name(t)).second || seen->size() > max_cname_chain) {
                           a.status = DnsStatus::temporary;
                           a.detail = "CNAME loop or overlong chain at " + safe(t);
                           a.records.clear();
                           return cb(std::move(a));
                         }
                       if (a.status == DnsStatus::nodata && !a.cname_chain.empty())
                         return self->lookup_raw(a.cname_chain.back(), type, seen, std::move(cb));
                       cb(std::move(a));
                     });
  }

  // Counts a mechanism or modifier that causes DNS lookups (§4.6.4).
  std::optional<Match> count_dns_term(std::string_view what) {
    if (++dns_terms_ > settings_.max_dns_terms)
      return Match::fail(SpfResult::permerror,
                         fmt::format("more than {} DNS-querying mechanisms and modifiers (at {})",
                                     settings_.max_dns_terms, safe(what)));
    return std::nullopt;
  }
  // Counts a void lookup (§4.6.4: NOERROR with no answers, or NXDOMAIN).
  std::optional<Match> count_void(std::string_view name) {
    if (++voids_ > settings_.max_void_lookups)
      return Match::fail(SpfResult::permerror,
                         fmt::format("more than {} void DNS lookups (at {})", settings_.max_void_lookups, safe(name)));
    return std::nullopt;
  }

  // Expands a domain-spec for <domain> into a target name (nullopt: not a
  // usable name). Looks up %{p} first when the spec uses it.
  void target_name(const std::string& spec, const std::string& domain,
                   std::function<void(std::expected<std::optional<std::string>, std::string>)> cb) {
    auto self = shared_from_this();
    with_p(spec, domain, [self, spec, domain, cb = std::move(cb)](std::optional<std::string> p) {
      MacroValues v = self->values_;
      v.domain = domain;
      v.validated_name = std::move(p);
      auto expanded = expand_macros(spec, v, MacroKind::domain_spec);
      if (!expanded) return cb(std::unexpected(expanded.error()));
      std::string name = fit_domain_name(*expanded);
      if (!valid_target(name)) return cb(std::optional<std::string>{});
      cb(std::optional<std::string>{std::move(name)});
    });
  }

  // Runs cb with the %{p} value for <domain> when `text` needs it (§7.3:
  // prefer <domain> itself, then a subdomain of it, then any validated name).
  void with_p(std::string_view text, const std::string& domain, std::function<void(std::optional<std::string>)> cb) {
    if (!uses_p_macro(text)) return cb(std::nullopt);
    auto pick = [domain](const std::vector<std::string>& names) -> std::optional<std::string> {
      for (const auto& n : names)
        if (dns::canonical_name(n) == dns::canonical_name(domain)) return n;
      for (const auto& n : names)
        if (at_or_below(n, domain)) return n;
      if (!names.empty()) return names.front();
      return std::nullopt;
    };
    if (validated_) return cb(pick(*validated_));
    auto self = shared_from_this();
    validate_ptr_names({}, [self, pick, cb = std::move(cb)](std::vector<std::string> names) {
      self->validated_ = names;
      cb(pick(names));
    });
  }

  // The §5.5 procedure: the first 10 PTR names of ip (only those `keep`
  // accepts, when given), each kept when one of its addresses is ip. DNS
  // errors only drop names (§5.5: "If a DNS error occurs while doing an A RR
  // lookup, then that domain name is skipped").
  void validate_ptr_names(std::function<bool(const std::string&)> keep,
                          std::function<void(std::vector<std::string>)> cb, bool count_void_lookup = false,
                          std::function<void(Match)> on_limit = {}) {
    auto self = shared_from_this();
    lookup(reverse_name(ip_), RrType::ptr,
           [self, keep = std::move(keep), cb = std::move(cb), count_void_lookup,
            on_limit = std::move(on_limit)](DnsAnswer a) mutable {
             if (count_void_lookup && (a.status == DnsStatus::nxdomain || a.status == DnsStatus::nodata))
               if (auto over = self->count_void(reverse_name(self->ip_))) return on_limit(*over);
             std::vector<std::string> names;
             if (a.status == DnsStatus::ok) {
               auto ptrs = a.records_of<dns::PtrRecord>();
               for (std::size_t i = 0; i < ptrs.size() && i < max_ptr_names; ++i)
                 if (!keep || keep(ptrs[i].target)) names.push_back(ptrs[i].target);
             }
             auto state = std::make_shared<std::vector<std::string>>();
             self->validate_next(std::make_shared<std::vector<std::string>>(std::move(names)), 0, state,
                                 std::move(cb));
           });
  }

  void finish_timeout() {
    if (finished_) return;
    finished_ = true;
    Verdict v;
    v.result = SpfResult::temperror;
    v.reason = fmt::format("evaluation took longer than {} ms", settings_.time_limit.count());
    if (on_timeout_) on_timeout_(std::move(v));
  }

 private:
  void validate_next(std::shared_ptr<std::vector<std::string>> names, std::size_t i,
                     std::shared_ptr<std::vector<std::string>> valid, std::function<void(std::vector<std::string>)> cb) {
    if (i >= names->size()) return cb(std::move(*valid));
    auto self = shared_from_this();
    const std::string& name = (*names)[i];
    lookup_raw(name, ip_.v6 ? RrType::aaaa : RrType::a, std::make_shared<std::set<std::string>>(),
               [self, names, i, valid, cb = std::move(cb)](DnsAnswer a) mutable {
                 if (a.status == DnsStatus::ok)
                   for (const auto& addr : a.records_of<IpAddress>())
                     if (addr == self->ip_) {
                       valid->push_back((*names)[i]);
                       break;
                     }
                 self->validate_next(std::move(names), i + 1, std::move(valid), std::move(cb));
               });
  }
};

// One check_host() call (§4).
class Frame : public std::enable_shared_from_this<Frame> {
 public:
  Frame(std::shared_ptr<Evaluation> ev, std::string domain, std::function<void(Verdict)> done)
      : ev_(std::move(ev)), domain_(std::move(domain)), done_(std::move(done)) {}

  void start() {
    // §4.3: a malformed <domain> or one that is not multi-label gives none.
    if (!valid_spf_domain(domain_)) return finish_with(SpfResult::none, fmt::format("\"{}\" is not a valid domain", safe(domain_)));
    auto self = shared_from_this();
    ev_->lookup(domain_, RrType::txt, [self](DnsAnswer a) { self->on_txt(std::move(a)); });
  }

 private:
  void on_txt(DnsAnswer a) {
    // §4.4: a lookup error is temperror; no records is none.
    if (a.status == DnsStatus::temporary)
      return finish_with(SpfResult::temperror,
                         fmt::format("TXT lookup for {} failed: {}", safe(domain_), a.detail.empty() ? "temporary error" : a.detail));
    if (a.status != DnsStatus::ok) return finish_with(SpfResult::none, fmt::format("no SPF record at {}", safe(domain_)));
    // §4.5: keep the records that begin with "v=spf1"; none is none, more
    // than one is permerror. Other TXT records are none of our business.
    std::vector<std::string> spf;
    for (const auto& txt : a.records_of<dns::TxtRecord>()) {
      std::string joined = txt.joined();  // §3.3: strings concatenated without spaces
      if (is_spf_record(joined)) spf.push_back(std::move(joined));
    }
    if (spf.empty()) return finish_with(SpfResult::none, fmt::format("no SPF record at {}", safe(domain_)));
    if (spf.size() > 1) return finish_with(SpfResult::permerror, fmt::format("{} SPF records at {}", spf.size(), safe(domain_)));
    auto record = parse_record(spf.front());
    if (!record) return finish_with(SpfResult::permerror, fmt::format("SPF record of {}: {}", safe(domain_), record.error()));
    record_ = std::move(*record);
    step();
  }

  // Evaluates mechanisms from next_ on; returns when one needs DNS (its
  // answer calls step() again) or the frame is done.
  void step() {
    while (next_ < record_.mechanisms.size()) {
      const Mechanism& m = record_.mechanisms[next_];
      switch (m.kind) {
        case MechanismKind::all: return matched(m);
        case MechanismKind::ip4:
        case MechanismKind::ip6: {
          // §5.6: ip4 matches IPv4 clients only, ip6 IPv6 ones only (an
          // IPv4-mapped client is IPv4, §5).
          IpNetwork net{m.network, m.kind == MechanismKind::ip6 ? m.cidr6 : m.cidr4};
          if (net.contains(ev_->ip_)) return matched(m);
          ++next_;
          continue;
        }
        default: break;
      }
      if (auto over = ev_->count_dns_term(m.text)) return finish_match_error(*over);
      auto self = shared_from_this();
      return evaluate_dns(m, [self](Match r) { self->on_mechanism(std::move(r)); });
    }
    // §4.7: no mechanism matched; §6.1: redirect= applies only now.
    if (record_.redirect) return follow_redirect();
    finish_with(SpfResult::neutral, fmt::format("no mechanism matched in {} (default neutral)", safe(domain_)));
  }

  void on_mechanism(Match r) {
    const Mechanism& m = record_.mechanisms[next_];
    if (r.kind == Match::Kind::error) return finish_match_error(r);
    if (r.kind == Match::Kind::yes) return matched(m);
    ++next_;
    step();
  }

  void evaluate_dns(const Mechanism& m, std::function<void(Match)> cb) {
    auto self = shared_from_this();
    std::string spec = m.domain_spec.empty() ? std::string("%{d}") : m.domain_spec;
    if (m.kind == MechanismKind::include) {
      // §5.2: include needs a usable target; a malformed one means none,
      // which makes the include a permerror.
      ev_->target_name(spec, domain_, [self, cb = std::move(cb)](auto target) mutable {
        if (!target) return cb(Match::fail(SpfResult::permerror, target.error()));
        if (!*target) return cb(Match::fail(SpfResult::permerror, "include target is not a valid domain name"));
        auto child = std::make_shared<Frame>(self->ev_, **target, [cb = std::move(cb), name = **target](Verdict v) {
          // §5.2 table: pass matches; fail, softfail, neutral do not;
          // temperror and permerror propagate; none is permerror.
          switch (v.result) {
            case SpfResult::pass: return cb(Match::yes());
            case SpfResult::fail:
            case SpfResult::softfail:
            case SpfResult::neutral: return cb(Match::no());
            case SpfResult::temperror: return cb(Match::fail(SpfResult::temperror, v.reason));
            case SpfResult::permerror: return cb(Match::fail(SpfResult::permerror, v.reason));
            case SpfResult::none:
              return cb(Match::fail(SpfResult::permerror, fmt::format("include:{} has no SPF record", safe(name))));
          }
        });
        child->start();
      });
      return;
    }
    ev_->target_name(spec, domain_, [self, kind = m.kind, c4 = m.cidr4, c6 = m.cidr6, cb = std::move(cb)](auto target) mutable {
      if (!target) return cb(Match::fail(SpfResult::permerror, target.error()));
      // An unusable name (empty or overlong label after expansion) matches nothing.
      if (!*target) return cb(Match::no());
      const std::string name = **target;
      switch (kind) {
        case MechanismKind::a: return self->mechanism_a(name, c4, c6, std::move(cb));
        case MechanismKind::mx: return self->mechanism_mx(name, c4, c6, std::move(cb));
        case MechanismKind::ptr: return self->mechanism_ptr(name, std::move(cb));
        case MechanismKind::exists: return self->mechanism_exists(name, std::move(cb));
        default: return cb(Match::no());
      }
    });
  }

  bool in_cidr(const std::vector<IpAddress>& addrs, int c4, int c6) const {
    for (const auto& a : addrs)
      if (IpNetwork{a, a.v6 ? c6 : c4}.contains(ev_->ip_)) return true;
    return false;
  }

  // §5.3: the addresses of the target in the client's family, with the CIDR.
  void mechanism_a(const std::string& name, int c4, int c6, std::function<void(Match)> cb) {
    auto self = shared_from_this();
    ev_->lookup(name, ev_->ip_.v6 ? RrType::aaaa : RrType::a, [self, name, c4, c6, cb = std::move(cb)](DnsAnswer a) {
      if (a.status == DnsStatus::temporary)
        return cb(Match::fail(SpfResult::temperror, fmt::format("address lookup for {} failed: {}", safe(name), a.detail)));
      if (a.status == DnsStatus::nxdomain || a.status == DnsStatus::nodata) {
        if (auto over = self->ev_->count_void(name)) return cb(*over);
        return cb(Match::no());
      }
      if (a.status != DnsStatus::ok) return cb(Match::no());
      cb(self->in_cidr(a.records_of<IpAddress>(), c4, c6) ? Match::yes() : Match::no());
    });
  }

  // §5.4: the MX hosts of the target, then each host's addresses.
  void mechanism_mx(const std::string& name, int c4, int c6, std::function<void(Match)> cb) {
    auto self = shared_from_this();
    ev_->lookup(name, RrType::mx, [self, name, c4, c6, cb = std::move(cb)](DnsAnswer a) mutable {
      if (a.status == DnsStatus::temporary)
        return cb(Match::fail(SpfResult::temperror, fmt::format("MX lookup for {} failed: {}", safe(name), a.detail)));
      if (a.status == DnsStatus::nxdomain || a.status == DnsStatus::nodata) {
        if (auto over = self->ev_->count_void(name)) return cb(*over);
        return cb(Match::no());  // §5.4: no implicit MX
      }
      if (a.status != DnsStatus::ok) return cb(Match::no());
      auto mx = a.records_of<dns::MxRecord>();
      // §4.6.4: "the evaluation of each "MX" record MUST NOT result in
      // querying more than 10 address records" -- more than 10 MX names is
      // permerror (the suite's reading of RFC 7208).
      if (mx.size() > max_mx_records)
        return cb(Match::fail(SpfResult::permerror, fmt::format("{} has {} MX records (limit {})", safe(name), mx.size(), max_mx_records)));
      auto hosts = std::make_shared<std::vector<std::string>>();
      for (const auto& r : mx)
        if (r.exchange != "." && !r.exchange.empty()) hosts->push_back(r.exchange);  // RFC 7505 null MX: no host
      self->mx_next(hosts, 0, c4, c6, std::move(cb));
    });
  }

  void mx_next(std::shared_ptr<std::vector<std::string>> hosts, std::size_t i, int c4, int c6,
               std::function<void(Match)> cb) {
    if (i >= hosts->size()) return cb(Match::no());
    auto self = shared_from_this();
    // Exchange names come from the wire in presentation format already.
    std::string host = (*hosts)[i];
    ev_->lookup_raw(host, ev_->ip_.v6 ? RrType::aaaa : RrType::a, std::make_shared<std::set<std::string>>(),
                    [self, hosts, i, c4, c6, host, cb = std::move(cb)](DnsAnswer a) mutable {
                      if (a.status == DnsStatus::temporary)
                        return cb(Match::fail(SpfResult::temperror, fmt::format("address lookup for MX host {} failed: {}",
                                                                                 safe(host), a.detail)));
                      if (a.status == DnsStatus::ok && self->in_cidr(a.records_of<IpAddress>(), c4, c6))
                        return cb(Match::yes());
                      self->mx_next(std::move(hosts), i + 1, c4, c6, std::move(cb));
                    });
  }

  // §5.5: a validated PTR name at or below the target.
  void mechanism_ptr(const std::string& name, std::function<void(Match)> cb) {
    auto shared_cb = std::make_shared<std::function<void(Match)>>(std::move(cb));
    ev_->validate_ptr_names(
        [name](const std::string& n) { return at_or_below(n, name); },
        [shared_cb](std::vector<std::string> valid) { (*shared_cb)(valid.empty() ? Match::no() : Match::yes()); },
        true, [shared_cb](Match over) { (*shared_cb)(std::move(over)); });
  }

  // §5.7: any A record of the target (A even for an IPv6 client).
  void mechanism_exists(const std::string& name, std::function<void(Match)> cb) {
    auto self = shared_from_this();
    ev_->lookup(name, RrType::a, [self, name, cb = std::move(cb)](DnsAnswer a) {
      if (a.status == DnsStatus::temporary)
        return cb(Match::fail(SpfResult::temperror, fmt::format("exists lookup for {} failed: {}", safe(name), a.detail)));
      if (a.status == DnsStatus::nxdomain || a.status == DnsStatus::nodata) {
        if (auto over = self->ev_->count_void(name)) return cb(*over);
        return cb(Match::no());
      }
      cb(a.status == DnsStatus::ok ? Match::yes() : Match::no());
    });
  }

  // §6.1: check_host() on the redirect target; its result is ours (none
  // becomes permerror), and so is its exp= (§6.2: the original record's
  // explanation is not used).
  void follow_redirect() {
    if (auto over = ev_->count_dns_term("redirect=" + *record_.redirect)) return finish_match_error(*over);
    auto self = shared_from_this();
    ev_->target_name(*record_.redirect, domain_, [self](auto target) {
      if (!target) return self->finish_with(SpfResult::permerror, target.error());
      if (!*target) return self->finish_with(SpfResult::permerror, "redirect target is not a valid domain name");
      auto child = std::make_shared<Frame>(self->ev_, **target, [self, name = **target](Verdict v) {
        if (v.result == SpfResult::none) {
          v.result = SpfResult::permerror;
          v.reason = fmt::format("redirect={} has no SPF record", safe(name));
        }
        self->finish(std::move(v));
      });
      child->start();
    });
  }

  void matched(const Mechanism& m) {
    Verdict v;
    v.result = result_of(m.qualifier);
    v.reason = fmt::format("{} matched in {}", safe(m.text), safe(domain_));
    v.exp_spec = record_.explanation;
    v.exp_domain = domain_;
    finish(std::move(v));
  }

  void finish_match_error(const Match& r) { finish_with(r.error, r.reason); }

  void finish_with(SpfResult result, std::string reason) {
    Verdict v;
    v.result = result;
    v.reason = std::move(reason);
    finish(std::move(v));
  }

  void finish(Verdict v) {
    auto done = std::move(done_);
    if (done) done(std::move(v));
  }

  std::shared_ptr<Evaluation> ev_;
  std::string domain_;
  std::function<void(Verdict)> done_;
  Record record_;
  std::size_t next_ = 0;
};

// §6.2: on fail, the explanation: expand the exp= domain-spec, fetch exactly
// one TXT record, expand it as an explanation string. Any problem (DNS error,
// no or several records, bad syntax, non-ASCII) means no explanation. These
// lookups do not count against the limits.
void fetch_explanation(std::shared_ptr<Evaluation> ev, const Verdict& v, std::function<void(std::string)> cb) {
  if (v.result != SpfResult::fail || !v.exp_spec) return cb({});
  std::string domain = v.exp_domain;
  ev->target_name(*v.exp_spec, domain, [ev, domain, cb = std::move(cb)](auto target) mutable {
    if (!target || !*target) return cb({});
    ev->lookup(**target, RrType::txt, [ev, domain, cb = std::move(cb)](DnsAnswer a) mutable {
      if (a.status != DnsStatus::ok) return cb({});
      auto txt = a.records_of<dns::TxtRecord>();
      if (txt.size() != 1) return cb({});
      std::string text = txt.front().joined();
      if (check_macro_string(text, MacroKind::explanation).has_value() == false) return cb({});
      ev->with_p(text, domain, [ev, domain, text, cb = std::move(cb)](std::optional<std::string> p) {
        MacroValues values = ev->values_;
        values.domain = domain;
        values.validated_name = std::move(p);
        auto expanded = expand_macros(text, values, MacroKind::explanation);
        cb(expanded ? *expanded : std::string());
      });
    });
  });
}

struct Identity {
  std::string name;  // "mailfrom" / "helo"
  std::string domain;
  std::string local_part;
};

void run_check(dns::Resolver& resolver, const SpfRequest& request, Identity id, SpfCallback done,
               SpfSettings settings) {
  IpAddress ip = request.ip;
  // §5: an IPv4-mapped IPv6 client is an IPv4 client.
  if (auto normal = IpAddress::parse(ip.to_string())) ip = *normal;
  if (!settings.now) settings.now = [] { return static_cast<std::int64_t>(std::time(nullptr)); };
  auto ev = std::make_shared<Evaluation>(resolver, std::move(settings), ip);
  ev->values_.local_part = id.local_part.empty() ? "postmaster" : id.local_part;  // §4.3
  ev->values_.sender_domain = id.domain;
  ev->values_.sender = ev->values_.local_part + "@" + id.domain;
  ev->values_.ip = ip;
  ev->values_.helo = request.helo;
  ev->values_.receiver = request.receiver_host;
  ev->values_.timestamp = ev->settings_.now();

  SpfOutcome base;
  base.identity = id.name;
  base.domain = id.domain;
  base.sender = ev->values_.sender;
  auto shared_done = std::make_shared<SpfCallback>(std::move(done));
  auto complete = [ev, base, shared_done](Verdict v) {
    auto deliver = [ev, base, shared_done, v](std::string explanation) {
      if (!*shared_done) return;
      ev->finished_ = true;
      SpfOutcome out = base;
      out.result = v.result;
      out.explanation = std::move(explanation);
      out.detail = v.reason;
      auto cb = std::move(*shared_done);
      *shared_done = nullptr;
      cb(std::move(out));
    };
    if (ev->finished_ && v.result != SpfResult::temperror) return;
    // After a timeout there is nothing more to fetch.
    if (ev->finished_) return deliver({});
    ev->explaining_ = true;
    fetch_explanation(ev, v, deliver);
  };
  ev->on_timeout_ = complete;
  auto frame = std::make_shared<Frame>(ev, id.domain, complete);
  frame->start();
}

}  // namespace

bool valid_spf_domain(std::string_view domain) {
  if (domain.ends_with('.')) domain.remove_suffix(1);
  if (domain.empty() || domain.size() > 253 || domain.front() == '[') return false;
  for (char c : domain) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return false;
  }
  if (domain.find('.') == std::string_view::npos) return false;  // §4.3: must be multi-label
  return valid_target(domain);
}

void check_spf(dns::Resolver& resolver, SpfRequest request, SpfCallback done, SpfSettings settings) {
  Identity id{"mailfrom", {}, {}};
  if (request.sender.empty()) {
    // RFC 7208 §2.4: with a null reverse-path, MAIL FROM is postmaster@HELO.
    id.domain = request.helo;
    id.local_part = "postmaster";
  } else if (auto at = request.sender.rfind('@'); at != std::string::npos) {
    id.local_part = request.sender.substr(0, at);
    id.domain = request.sender.substr(at + 1);
  } else {
    id.domain = request.sender;  // no "@": a bare domain
  }
  run_check(resolver, request, std::move(id), std::move(done), std::move(settings));
}

void check_spf_helo(dns::Resolver& resolver, SpfRequest request, SpfCallback done, SpfSettings settings) {
  // RFC 7208 §2.3: check_host(ip, HELO, "postmaster@" HELO).
  Identity id{"helo", request.helo, "postmaster"};
  run_check(resolver, request, std::move(id), std::move(done), std::move(settings));
}

}  // namespace tern::spf
