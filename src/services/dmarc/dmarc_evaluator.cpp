// DMARC policy discovery (RFC 7489 §6.6.3) over the Resolver interface, and
// the Public Suffix List loader. The decision itself is dmarc_policy.cpp.
#include "services/dmarc/dmarc_evaluator.hpp"

#include <fstream>
#include <memory>
#include <sstream>

#include "base/strings.hpp"

namespace tern::dmarc {
namespace {

// A DMARC record reached through CNAMEs (hosted DMARC services publish them)
// may need the chain followed by hand when a static zone answers only the
// CNAME (resolver.hpp); this bounds it.
constexpr int kMaxCnameHops = 8;

struct Job {
  dns::Resolver& resolver;
  DmarcInput input;
  AlignmentFacts facts;
  std::string from;  // normalised From domain
  std::string org;   // its Organizational Domain
  std::function<void(DmarcOutcome)> done;
  RandomBelow random_below;
  bool at_org = false;
  int cname_hops = 0;
};

void ask(const std::shared_ptr<Job>& job, const std::string& qname);

void finish(const std::shared_ptr<Job>& job, DmarcOutcome out) {
  auto done = std::move(job->done);
  done(std::move(out));
}

DmarcOutcome simple(auth::DmarcResult result, std::string detail, std::string policy_domain = {}) {
  DmarcOutcome out;
  out.result = result;
  out.detail = std::move(detail);
  out.policy_domain = std::move(policy_domain);
  return out;
}

std::string policy_domain_of(const Job& job) { return job.at_org ? job.org : job.from; }

// §6.6.3 steps 2-3: nothing at the From domain, so ask at the
// Organizational Domain (when it differs); nothing there either: no policy.
void no_record(const std::shared_ptr<Job>& job, const std::string& why) {
  if (!job->at_org && !job->org.empty() && job->org != job->from) {
    job->at_org = true;
    job->cname_hops = 0;
    ask(job, "_dmarc." + job->org);
    return;
  }
  finish(job, simple(auth::DmarcResult::none, "no DMARC record (" + why + ")"));
}

void on_answer(const std::shared_ptr<Job>& job, const std::string& qname, dns::DnsAnswer answer) {
  using dns::DnsStatus;
  const std::string domain = policy_domain_of(*job);
  switch (answer.status) {
    case DnsStatus::temporary:
      // §6.6.3: a transient DNS error is not "no record": temperror, no fallback.
      return finish(job, simple(auth::DmarcResult::temperror,
                                "DNS lookup of " + qname + " failed temporarily: " + answer.detail, domain));
    case DnsStatus::nxdomain:
    case DnsStatus::permanent_error:
      return no_record(job, qname + " " + std::string(dns::to_string(answer.status)));
    case DnsStatus::nodata:
      if (!answer.cname_chain.empty() && ++job->cname_hops <= kMaxCnameHops)
        return ask(job, answer.cname_chain.back());
      return no_record(job, qname + " nodata");
    case DnsStatus::ok: break;
  }
  // §6.6.3 step 4: TXT records that do not start with v=DMARC1 are discarded.
  std::vector<std::string> records;
  for (const auto& txt : answer.records_of<dns::TxtRecord>()) {
    std::string text = txt.joined();
    if (is_dmarc_record(text)) records.push_back(std::move(text));
  }
  if (records.empty()) return no_record(job, qname + " has no v=DMARC1 record");
  // §6.6.3 step 5: more than one record: no DMARC processing (and no fallback).
  if (records.size() > 1)
    return finish(job, simple(auth::DmarcResult::none,
                              std::to_string(records.size()) + " DMARC records at " + qname + " (RFC 7489 §6.6.3)",
                              domain));
  auto record = parse_dmarc_record(records.front());
  if (!record)
    return finish(job, simple(auth::DmarcResult::permerror,
                              "invalid DMARC record at " + qname + ": " + record.error(), domain));
  // sp= applies when the record came from the Organizational Domain and the
  // From domain is below it (§6.3 sp, §6.6.3 step 3).
  bool subdomain = job->at_org && job->from != job->org;
  finish(job, apply_dmarc_record(job->facts, std::move(*record), domain, subdomain, job->random_below));
}

void ask(const std::shared_ptr<Job>& job, const std::string& qname) {
  job->resolver.lookup(qname, dns::RrType::txt,
                       [job, qname](dns::DnsAnswer answer) { on_answer(job, qname, std::move(answer)); });
}

}  // namespace

Result<PublicSuffixList> load_public_suffix_list(const std::filesystem::path& path,
                                                 PublicSuffixList::Sections sections) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return std::unexpected(Error::permanent_failure("public suffix list unavailable",
                                                    "cannot open public suffix list " + path.string()));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad())
    return std::unexpected(Error::permanent_failure("public suffix list unavailable",
                                                    "cannot read public suffix list " + path.string()));
  auto list = PublicSuffixList::parse(text.str(), sections);
  if (list.rule_count() == 0)
    return std::unexpected(Error::permanent_failure("public suffix list unavailable",
                                                    "no rules in public suffix list " + path.string()));
  return list;
}

void evaluate_dmarc(dns::Resolver& resolver, const PublicSuffixList& psl, DmarcInput input,
                    std::function<void(DmarcOutcome)> done, RandomBelow random_below) {
  auto from = normalize_domain(input.from_domain);
  if (!from || from->empty()) {
    done(simple(auth::DmarcResult::none, "no usable RFC5322.From domain"));
    return;
  }
  auto job = std::make_shared<Job>(Job{resolver, std::move(input), {}, *from, psl.organizational_domain(*from),
                                       std::move(done), std::move(random_below)});
  // Everything that needs the list is worked out now (see the header).
  job->facts = alignment_facts(psl, job->input);
  ask(job, "_dmarc." + job->from);
}

}  // namespace tern::dmarc
