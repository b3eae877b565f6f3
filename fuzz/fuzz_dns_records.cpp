// The DNS record parsers (src/services/dns/dns_records) on arbitrary bytes:
// the first byte picks a record type and the rest is its rdata; the whole
// input is also parsed as a DNS message (compressed names, pointer loops,
// bad lengths). Nothing may crash, hang or read out of bounds, and what
// parses keeps its promises: names are escaped printable ASCII, A is IPv4 and
// AAAA IPv6, TXT strings fit in the rdata, a CNAME chain is no longer than
// the answer section.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.hpp"
#include "services/dns/dns_records.hpp"

using namespace tern::dns;

namespace {

void check_name(const std::string& n) {
  FUZZ_CHECK(!n.empty());
  for (char c : n) FUZZ_CHECK(c >= '!' && c <= '~');
  std::string canon = canonical_name(n);
  FUZZ_CHECK(canonical_name(canon) == canon);
  FUZZ_CHECK(same_name(n, canon));
}

void check_record(const RecordData& r, std::size_t rdata_size) {
  if (auto* mx = std::get_if<MxRecord>(&r)) check_name(mx->exchange);
  if (auto* c = std::get_if<CnameRecord>(&r)) check_name(c->target);
  if (auto* p = std::get_if<PtrRecord>(&r)) check_name(p->target);
  if (auto* t = std::get_if<TxtRecord>(&r)) {
    FUZZ_CHECK(!t->strings.empty());
    FUZZ_CHECK(t->joined().size() + t->strings.size() == rdata_size);
  }
  if (auto* t = std::get_if<TlsaRecord>(&r)) FUZZ_CHECK(t->data.size() + 3 == rdata_size);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Bytes all(data, size);
  if (size > 0) {
    static constexpr RrType types[] = {RrType::a,   RrType::cname, RrType::ptr, RrType::mx,
                                       RrType::txt, RrType::aaaa,  RrType::tlsa};
    RrType type = types[data[0] % std::size(types)];
    auto rdata = all.subspan(1);
    if (auto r = parse_rdata(type, rdata)) {
      check_record(*r, rdata.size());
      if (type == RrType::a) FUZZ_CHECK(!std::get<tern::IpAddress>(*r).v6);
      if (type == RrType::aaaa) FUZZ_CHECK(std::get<tern::IpAddress>(*r).v6);
    }
    std::size_t pos = 0;
    if (auto n = read_name(rdata, pos)) {
      check_name(*n);
      FUZZ_CHECK(pos <= rdata.size() && pos <= 255);
    }
  }
  if (auto m = parse_message(all)) {
    FUZZ_CHECK(m->answers.size() <= size / 11);
    for (const auto& rr : m->answers) {
      check_name(rr.owner);
      if (rr.data) {
        if (auto* mx = std::get_if<MxRecord>(&*rr.data)) check_name(mx->exchange);
        if (auto* c = std::get_if<CnameRecord>(&*rr.data)) check_name(c->target);
      }
    }
    FUZZ_CHECK(cname_chain(*m).size() <= m->answers.size());
  }
  return 0;
}
