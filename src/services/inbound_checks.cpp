#include "services/inbound_checks.hpp"

#include <fmt/format.h>

#include <mutex>

#include "formats/authentication_results.hpp"
#include "services/dkim/dkim_verifier.hpp"
#include "services/dmarc/dmarc_evaluator.hpp"
#include "services/dmarc/dmarc_report.hpp"
#include "services/dmarc/header_from.hpp"
#include "services/spf/spf_evaluator.hpp"

namespace tern::inbound {
namespace {

std::string_view domain_of(std::string_view address) {
  auto at = address.rfind('@');
  return at == std::string_view::npos ? std::string_view{} : address.substr(at + 1);
}

// Everything the parallel checks found, filled from several callbacks.
struct Pending {
  std::mutex mu;
  int left = 0;
  CheckRequest request;
  std::optional<spf::SpfOutcome> spf_mailfrom, spf_helo;
  std::vector<dkim::DkimSignatureResult> dkim;
  bool dkim_ran = false;
  std::vector<abuse::DnsblHit> rhsbl;
  std::function<void(CheckVerdict)> done;
};

std::string header_block_of(std::string_view message) {
  auto end = message.find("\r\n\r\n");
  return std::string(end == std::string_view::npos ? message : message.substr(0, end + 2));
}

}  // namespace

InboundChecker::InboundChecker(dns::Resolver& resolver, std::shared_ptr<const dmarc::PublicSuffixList> psl,
                               ChecksConfig checks, std::string authserv_id, std::string hostname)
    : resolver_(resolver),
      psl_(std::move(psl)),
      checks_(std::move(checks)),
      authserv_id_(std::move(authserv_id)),
      hostname_(std::move(hostname)) {}

void InboundChecker::check(CheckRequest request, std::function<void(CheckVerdict)> done) const {
  auto st = std::make_shared<Pending>();
  st->request = std::move(request);
  st->done = std::move(done);
  const CheckRequest& rq = st->request;
  std::string sender_domain(domain_of(rq.mail_from));

  // The second stage: DMARC needs SPF and DKIM, and then everything is known.
  auto finish = [this, st] {
    auto from = dmarc::header_from_domain(header_block_of(*st->request.message));
    auto conclude = [this, st](std::optional<dmarc::DmarcInput> input, std::optional<dmarc::DmarcOutcome> dmarc_out) {
      const CheckRequest& r = st->request;
      CheckVerdict v;
      AuthenticationResults ar;
      ar.authserv_id = authserv_id_;
      std::vector<std::string> summary;
      if (r.client.iprev) {
        ar.results.push_back(iprev_method(r.client.iprev->result, r.client_ip.to_string(), r.client.iprev->name));
        summary.push_back("iprev=" + r.client.iprev->result);
      }
      if (st->spf_mailfrom) {
        const auto& s = *st->spf_mailfrom;
        auto m = spf_method(auth::to_string(s.result), s.sender);
        m.comment = s.detail;
        ar.results.push_back(std::move(m));
        summary.push_back(fmt::format("spf={}", auth::to_string(s.result)));
      }
      if (st->spf_helo && st->spf_helo->result != auth::SpfResult::none) {
        const auto& s = *st->spf_helo;
        auto m = spf_method(auth::to_string(s.result), {}, s.domain);
        m.comment = s.detail;
        ar.results.push_back(std::move(m));
        summary.push_back(fmt::format("spf_helo={}", auth::to_string(s.result)));
      }
      if (st->dkim_ran) {
        if (st->dkim.empty()) {
          ar.results.push_back(AuthMethodResult{"dkim", "none", "", "", {}});
        }
        for (const auto& d : st->dkim) {
          auto m = dkim_method(auth::to_string(d.result), d.domain, d.selector, d.b_prefix);
          std::string comment = d.detail;
          // RFC 6376 §8.2: say plainly that part of the body is not covered.
          if (d.unsigned_body_bytes)
            comment += fmt::format("{}l= leaves {} body octets unsigned", comment.empty() ? "" : "; ",
                                   d.unsigned_body_bytes);
          m.comment = comment;
          ar.results.push_back(std::move(m));
        }
        summary.push_back(fmt::format("dkim={}", auth::to_string(dkim::overall_result(st->dkim))));
      }
      if (dmarc_out) {
        const auto& d = *dmarc_out;
        ar.results.push_back(dmarc_method(auth::to_string(d.result), d.policy, d.disposition, input->from_domain));
        summary.push_back(fmt::format("dmarc={} policy={} disposition={}", auth::to_string(d.result), d.policy,
                                      d.disposition));
        v.dmarc_report_line = dmarc::dmarc_report_line(*input, d, r.client_ip.to_string(),
                                                       std::chrono::system_clock::from_time_t(r.now_unix));
        if (checks_.dmarc == "enforce" && d.result == auth::DmarcResult::fail) {
          if (d.disposition == "reject") {
            v.action = CheckVerdict::Action::reject;
            // RFC 7489 §6.6.4 / §10.3: reject with 5.7.1 and say why.
            v.reply = smtp::Reply{550, "5.7.1",
                                  fmt::format("Message rejected: {} publishes a DMARC reject policy and this "
                                              "message failed it (SPF and DKIM not aligned)",
                                              d.policy_domain)};
          } else if (d.disposition == "quarantine") {
            v.action = CheckVerdict::Action::junk;
            v.header_fields += fmt::format("X-Tern-Junk: dmarc=fail (p=quarantine) header.from={}\r\n",
                                           input->from_domain);
          }
        }
      }
      std::vector<abuse::DnsblHit> hits = r.client.dnsbl;
      hits.insert(hits.end(), st->rhsbl.begin(), st->rhsbl.end());
      if (!st->rhsbl.empty() && checks_.dnsbl_action == "reject" && v.action != CheckVerdict::Action::reject) {
        v.action = CheckVerdict::Action::reject;
        v.reply = smtp::Reply{554, "5.7.1", fmt::format("Sender domain {} is listed by {}", domain_of(r.mail_from),
                                                        st->rhsbl.front().zone)};
      }
      for (const auto& h : hits) {
        v.header_fields += fmt::format("X-Tern-DNSBL: {} ({})\r\n", h.zone, h.answer);
        summary.push_back("dnsbl=" + h.zone);
      }
      v.header_fields = format_authentication_results(ar) + v.header_fields;
      for (const auto& s : summary) v.summary += (v.summary.empty() ? "" : " ") + s;
      auto cb = std::move(st->done);
      cb(std::move(v));
    };

    if (checks_.dmarc == "off" || !from) return conclude(std::nullopt, std::nullopt);
    dmarc::DmarcInput input;
    input.from_domain = *from;
    if (st->spf_mailfrom) {
      input.spf = st->spf_mailfrom->result;
      input.spf_domain = st->spf_mailfrom->domain;
    }
    for (const auto& d : st->dkim) input.dkim.push_back({d.result, d.domain});
    static const dmarc::PublicSuffixList empty_list;
    const dmarc::PublicSuffixList& psl = psl_ ? *psl_ : empty_list;
    dmarc::evaluate_dmarc(resolver_, psl, input, [conclude, input](dmarc::DmarcOutcome out) {
      conclude(input, std::move(out));
    });
  };

  // One callback per started check; the last one to answer moves on.
  auto one_done = [st, finish] {
    {
      std::lock_guard lock(st->mu);
      if (--st->left != 0) return;
    }
    finish();
  };

  std::vector<std::function<void()>> starts;
  spf::SpfRequest sreq{rq.client_ip, rq.helo, rq.mail_from, hostname_};
  if (checks_.spf) {
    starts.push_back([this, st, sreq, one_done] {
      spf::check_spf(resolver_, sreq, [st, one_done](spf::SpfOutcome o) {
        {
          std::lock_guard lock(st->mu);
          st->spf_mailfrom = std::move(o);
        }
        one_done();
      });
    });
    starts.push_back([this, st, sreq, one_done] {
      spf::check_spf_helo(resolver_, sreq, [st, one_done](spf::SpfOutcome o) {
        {
          std::lock_guard lock(st->mu);
          st->spf_helo = std::move(o);
        }
        one_done();
      });
    });
  }
  if (checks_.dkim || checks_.dmarc != "off") {
    starts.push_back([this, st, one_done] {
      dkim::verify_dkim(resolver_, st->request.message, st->request.now_unix,
                        [st, one_done](std::vector<dkim::DkimSignatureResult> results) {
                          {
                            std::lock_guard lock(st->mu);
                            st->dkim = std::move(results);
                            st->dkim_ran = true;
                          }
                          one_done();
                        });
    });
  }
  if (!checks_.rhsbl.empty() && !sender_domain.empty()) {
    starts.push_back([this, st, sender_domain, one_done] {
      abuse::check_rhsbl(resolver_, sender_domain, checks_.rhsbl, [st, one_done](std::vector<abuse::DnsblHit> h) {
        {
          std::lock_guard lock(st->mu);
          st->rhsbl = std::move(h);
        }
        one_done();
      });
    });
  }
  if (starts.empty()) return finish();
  st->left = static_cast<int>(starts.size());
  for (auto& s : starts) s();
}

}  // namespace tern::inbound
