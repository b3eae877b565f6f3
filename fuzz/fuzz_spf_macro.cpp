// SPF macro expansion (src/services/spf/spf_macro) on arbitrary macro-strings:
// the first byte picks the context (domain-spec, explanation, unknown
// modifier) and whether %{p} has a value, the rest is the text. No crash;
// expansion succeeds exactly when the syntax check does; a name made to fit
// is at most 253 characters.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.hpp"
#include "services/spf/spf_macro.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tern::spf;
  if (size == 0) return 0;
  const MacroKind kinds[] = {MacroKind::domain_spec, MacroKind::explanation, MacroKind::unknown_modifier};
  MacroKind kind = kinds[data[0] % 3];
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

  MacroValues v;
  v.sender = "strong-bad@email.example.com";
  v.local_part = "strong-bad";
  v.sender_domain = "email.example.com";
  v.domain = "email.example.com";
  v.ip = *tern::IpAddress::parse((data[0] & 8) ? "2001:db8::cb01" : "192.0.2.3");
  if (data[0] & 4) v.validated_name = "mx.example.org";
  v.helo = "mx.example.org";
  v.receiver = "receiver.example.net";
  v.timestamp = 1700000000;

  auto checked = check_macro_string(text, kind);
  auto expanded = expand_macros(text, v, kind);
  FUZZ_CHECK(checked.has_value() == expanded.has_value());
  (void)uses_p_macro(text);
  if (expanded) {
    auto name = fit_domain_name(*expanded);
    FUZZ_CHECK(name.size() <= 253);
  }
  return 0;
}
