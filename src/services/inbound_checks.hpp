// The judgement of one incoming message from an unauthenticated client: SPF
// (MAIL FROM and HELO), DKIM, DMARC, the sender-domain blocklists, combined
// with what was learnt at connect time (DNS blocklists, iprev), into the
// Authentication-Results field to prepend (RFC 8601) and an action: deliver,
// file in Junk (DMARC p=quarantine) or refuse (p=reject, a listed sender
// domain). Asynchronous over dns::Resolver; no I/O of its own, no clock but
// the one in the request, so it runs the same under a fake resolver.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/config.hpp"
#include "base/ip_network.hpp"
#include "protocol/smtp/reply.hpp"
#include "services/abuse/dnsbl.hpp"
#include "services/abuse/iprev.hpp"
#include "services/dmarc/public_suffix.hpp"
#include "services/dns/resolver.hpp"

namespace tern::inbound {

// Found at connect time, before the greeting.
struct ClientFacts {
  std::vector<abuse::DnsblHit> dnsbl;
  std::optional<abuse::IprevOutcome> iprev;
};

struct CheckRequest {
  IpAddress client_ip;
  std::string helo;
  std::string mail_from;  // without <>; empty for the null reverse-path
  std::shared_ptr<const std::string> message;  // wire form, as it will be stored
  ClientFacts client;
  std::int64_t now_unix = 0;
};

struct CheckVerdict {
  enum class Action { deliver, junk, reject };
  Action action = Action::deliver;
  std::optional<smtp::Reply> reply;  // for reject
  std::string header_fields;         // to prepend: Authentication-Results and marks, CRLF-ended
  std::string summary;               // "spf=pass dkim=pass dmarc=pass" for the log
  std::string dmarc_report_line;     // JSON for aggregate reports; empty when DMARC did not apply
};

class InboundChecker {
 public:
  // psl may be null (no list): DMARC then treats each From domain as its own
  // organisational domain, and says so in the log once.
  InboundChecker(dns::Resolver& resolver, std::shared_ptr<const dmarc::PublicSuffixList> psl, ChecksConfig checks,
                 std::string authserv_id, std::string hostname);

  // `done` runs once, on the resolver's callback thread or inline.
  void check(CheckRequest request, std::function<void(CheckVerdict)> done) const;

  const std::string& authserv_id() const { return authserv_id_; }

 private:
  dns::Resolver& resolver_;
  std::shared_ptr<const dmarc::PublicSuffixList> psl_;
  ChecksConfig checks_;
  std::string authserv_id_;
  std::string hostname_;
};

}  // namespace tern::inbound
