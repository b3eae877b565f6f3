// The DNS lookup interface the rest of Tern depends on: one asynchronous,
// callback-based call, so routing (mx_router), SPF and DKIM can be tested with
// a fake and never block an I/O thread. No Asio here; implementations decide
// which thread runs the callback and must document it.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "services/dns/dns_records.hpp"

namespace tern::dns {

enum class DnsStatus {
  ok,               // records of the asked type exist (records is not empty)
  nxdomain,         // the name (or the end of its CNAME chain) does not exist
  nodata,           // the name exists, but has no records of the asked type
  temporary,        // SERVFAIL, timeout, network or resolver trouble: ask again later
  permanent_error,  // the question itself is unusable (malformed name)
};
inline std::string_view to_string(DnsStatus status) {
  switch (status) {
    case DnsStatus::ok: return "ok";
    case DnsStatus::nxdomain: return "nxdomain";
    case DnsStatus::nodata: return "nodata";
    case DnsStatus::temporary: return "temporary";
    case DnsStatus::permanent_error: return "permanent_error";
  }
  return "?";
}

struct DnsAnswer {
  DnsStatus status = DnsStatus::temporary;
  // Records of the asked type, owned by the last name of cname_chain (or by
  // the query name when the chain is empty). Only for status ok.
  std::vector<RecordData> records;
  // CNAME targets followed inside this answer, in order (RFC 1034 §3.6.2).
  // With nodata or nxdomain they say which name lacks the data; the answer
  // may end at a CNAME whose target was not looked up (a static zone answers
  // only the CNAME): the caller asks again for the last target.
  std::vector<std::string> cname_chain;
  std::uint32_t ttl = 0;  // seconds; for negative answers, the negative-cache TTL
  bool secure = false;    // DNSSEC-validated (RFC 4033); false without a trust anchor
  std::string detail;     // for the log: rcode, resolver error, parse problems

  // The records that hold a T (IpAddress, MxRecord, TxtRecord, ...).
  template <typename T>
  std::vector<T> records_of() const {
    std::vector<T> out;
    for (const auto& r : records)
      if (const T* t = std::get_if<T>(&r)) out.push_back(*t);
    return out;
  }
};

class Resolver {
 public:
  using Callback = std::function<void(DnsAnswer)>;
  virtual ~Resolver() = default;

  // Looks up `name` (presentation format, trailing dot optional; an IDN must
  // already be A-labels) for records of `type`. `done` runs exactly once. An
  // implementation may run it on another thread, or (a fake, or a resolver
  // that is shutting down) inside this call: callers must not hold a lock
  // that `done` takes. Thread-safe: any thread may call lookup at any time.
  virtual void lookup(std::string name, RrType type, Callback done) = 0;
};

}  // namespace tern::dns
