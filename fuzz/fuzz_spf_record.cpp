// The SPF record parser (src/services/spf/spf_record) on arbitrary bytes, as
// a TXT record from anyone's DNS: no crash, and a record it accepts keeps the
// parser's promises (an SPF version, CIDR lengths in range, domain-specs that
// pass their own check, at most one redirect= and exp=).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.hpp"
#include "services/spf/spf_record.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tern::spf;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)check_domain_spec(text);
  auto record = parse_record(text);
  if (!record) {
    FUZZ_CHECK(!record.error().empty());
    return 0;
  }
  FUZZ_CHECK(is_spf_record(text));
  for (const auto& m : record->mechanisms) {
    FUZZ_CHECK(m.cidr4 >= 0 && m.cidr4 <= 32);
    FUZZ_CHECK(m.cidr6 >= 0 && m.cidr6 <= 128);
    FUZZ_CHECK(!m.text.empty());
    if (!m.domain_spec.empty()) FUZZ_CHECK(check_domain_spec(m.domain_spec).has_value());
    if (m.kind == MechanismKind::include || m.kind == MechanismKind::exists) FUZZ_CHECK(!m.domain_spec.empty());
    if (m.kind == MechanismKind::ip6) FUZZ_CHECK(m.network.v6);
    if (m.kind == MechanismKind::ip4) FUZZ_CHECK(!m.network.v6);
  }
  if (record->redirect) FUZZ_CHECK(check_domain_spec(*record->redirect).has_value());
  if (record->explanation) FUZZ_CHECK(check_domain_spec(*record->explanation).has_value());
  return 0;
}
