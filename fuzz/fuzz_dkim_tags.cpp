// The DKIM tag parsers (src/services/dkim/dkim_tags) on arbitrary bytes: the
// tag list, the DKIM-Signature field and the key record. Nothing may crash
// or read out of bounds, and accepted results keep their promises: tags are
// unique views into the input, a parsed signature has its required parts and
// a From in h=, i= lies in d=, x= is not before t=, a key has a non-empty p=,
// and removing b= leaves the field with an empty b= that parses again.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/strings.hpp"
#include "fuzz_check.hpp"
#include "services/dkim/dkim_tags.hpp"

using namespace tern::dkim;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  auto tags = parse_tag_list(text);
  if (tags) {
    for (std::size_t i = 0; i < tags->size(); ++i) {
      const Tag& t = (*tags)[i];
      FUZZ_CHECK(!t.name.empty());
      FUZZ_CHECK(t.name.data() >= text.data() && t.name.data() + t.name.size() <= text.data() + text.size());
      FUZZ_CHECK(t.raw_value.data() >= text.data() &&
                 t.raw_value.data() + t.raw_value.size() <= text.data() + text.size());
      FUZZ_CHECK(t.value.size() <= t.raw_value.size());
      FUZZ_CHECK(find_tag(*tags, t.name) == &t);  // no duplicates
    }
  } else {
    FUZZ_CHECK(!tags.error().empty());
  }

  auto sig = parse_signature(text);
  if (sig) {
    FUZZ_CHECK(tags.has_value());  // a signature is a tag list first
    FUZZ_CHECK(!sig->signature.empty() && !sig->domain.empty() && !sig->selector.empty());
    FUZZ_CHECK(sig->body_hash.size() == (hash_of(sig->algorithm) == HashAlgorithm::sha1 ? 20u : 32u));
    bool from = false;
    for (const auto& h : sig->signed_headers) from = from || tern::iequals(h, "from");
    FUZZ_CHECK(from);
    FUZZ_CHECK(sig->signed_headers.size() <= max_signed_headers);
    auto at = sig->identity.rfind('@');
    FUZZ_CHECK(at != std::string::npos);
    FUZZ_CHECK(tern::to_lower(sig->identity.substr(at + 1)).ends_with(sig->domain));
    if (sig->timestamp && sig->expiration) FUZZ_CHECK(*sig->expiration >= *sig->timestamp);

    // §3.7: the field with b= emptied still parses as a tag list with an empty b=.
    std::string field = "DKIM-Signature:" + std::string(text);
    auto stripped = without_signature_value(field);
    FUZZ_CHECK(stripped.has_value());
    FUZZ_CHECK(stripped->size() < field.size());
    auto again = parse_tag_list(std::string_view(*stripped).substr(stripped->find(':') + 1));
    FUZZ_CHECK(again.has_value());
    const Tag* b = find_tag(*again, "b");
    FUZZ_CHECK(b != nullptr && b->raw_value.empty());
  } else {
    FUZZ_CHECK(!sig.error().empty());
  }

  auto key = parse_key_record(text);
  if (key) {
    FUZZ_CHECK(tags.has_value());
    FUZZ_CHECK(!key->public_key.empty());
  } else {
    FUZZ_CHECK(!key.error().empty());
  }
  return 0;
}
