// parse_mailbox (configured users and aliases) and parse_path on arbitrary
// text. An address that parses prints back as exactly its input, knows
// whether it needs SMTPUTF8, and has a lookup key that is itself a valid
// address with the same key (so lookups are stable).
#include <cstdint>
#include <string>
#include <string_view>

#include "formats/mail_address.hpp"
#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tern;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto a = parse_mailbox(text)) {
    FUZZ_CHECK(!a->is_null());
    FUZZ_CHECK(!a->domain.empty());
    FUZZ_CHECK(a->to_string() == text);
    bool high = false;
    for (unsigned char c : text) high |= c >= 0x80;
    FUZZ_CHECK(a->needs_smtputf8() == high);
    std::string key = a->lookup_key();
    auto k = parse_mailbox(key);
    FUZZ_CHECK(k.has_value());
    FUZZ_CHECK(k->lookup_key() == key);
  }
  (void)parse_path(text, PathKind::reverse_path);
  (void)parse_path(text, PathKind::forward_path);
  return 0;
}
