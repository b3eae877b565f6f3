// DMARC's parsers of untrusted text: DMARC TXT records, names looked up in the
// Public Suffix List (Punycode included), the From domain of a header, and
// Authentication-Results recognition and building. No crash, and:
// removing our Authentication-Results removes exactly the ranges found, is
// idempotent, and what the builder writes cannot be broken out of.
#include <cstdint>
#include <string>
#include <string_view>

#include "formats/authentication_results.hpp"
#include "fuzz_check.hpp"
#include "services/dmarc/dmarc_record.hpp"
#include "services/dmarc/header_from.hpp"
#include "services/dmarc/public_suffix.hpp"

namespace {

const tern::dmarc::PublicSuffixList& list() {
  static const auto psl = tern::dmarc::PublicSuffixList::parse(
      "com\nuk\nco.uk\n*.kobe.jp\n!city.kobe.jp\n*.ck\n!www.ck\n公司.cn\ncn\n"
      "// ===BEGIN PRIVATE DOMAINS===\nblogspot.com\n");
  return psl;
}

void check_record(std::string_view text) {
  auto r = tern::dmarc::parse_dmarc_record(text);
  if (r) {
    FUZZ_CHECK(tern::dmarc::is_dmarc_record(text));
    FUZZ_CHECK(r->percent <= 100);
  } else {
    FUZZ_CHECK(!r.error().empty());
  }
}

void check_psl(std::string_view name) {
  const auto& psl = list();
  std::string org = psl.organizational_domain(name);
  std::string suffix = psl.public_suffix(name);
  if (!org.empty()) {
    // The organisational domain is a suffix of the normalised name, and
    // asking again gives the same answer.
    auto norm = tern::dmarc::normalize_domain(name);
    FUZZ_CHECK(norm && norm->ends_with(org));
    FUZZ_CHECK(psl.organizational_domain(org) == org);
  }
  (void)tern::dmarc::to_a_label(name);
}

void check_authentication_results(std::string_view header) {
  const std::string_view id = "mx.example.org";
  auto ranges = tern::find_authentication_results(header, id);
  std::size_t removed = 0, last = 0;
  for (const auto& r : ranges) {
    FUZZ_CHECK(r.begin >= last && r.begin < r.end && r.end <= header.size());
    removed += r.end - r.begin;
    last = r.end;
  }
  std::string out = tern::remove_authentication_results(header, id);
  FUZZ_CHECK(out.size() + removed == header.size());
  FUZZ_CHECK(tern::find_authentication_results(out, id).empty());

  // Build a field from the fuzzed text and check that it stays one field.
  std::string_view half = header.substr(0, header.size() / 2), rest = header.substr(header.size() / 2);
  tern::AuthenticationResults ar{std::string(id),
                                 {tern::spf_method("pass", half), tern::dkim_method("fail", rest, half, rest),
                                  tern::AuthMethodResult{"dmarc", "fail", std::string(half), std::string(rest),
                                                         {{"header", "from", std::string(rest)}}}}};
  std::string field = tern::format_authentication_results(ar);
  FUZZ_CHECK(field.ends_with("\r\n"));
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\r') FUZZ_CHECK(i + 1 < field.size() && field[i + 1] == '\n');
    if (field[i] == '\n') FUZZ_CHECK(i > 0 && field[i - 1] == '\r' && (i + 1 == field.size() || field[i + 1] == '\t'));
  }
  auto found = tern::find_authentication_results(field, id);
  FUZZ_CHECK(found.size() == 1 && found[0].begin == 0 && found[0].end == field.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  check_record(text);
  check_psl(text);
  (void)tern::dmarc::header_from_domain(text);
  check_authentication_results(text);
  return 0;
}
