// Base64 (RFC 4648 §4, the standard alphabet with padding), as SASL uses it
// (RFC 4954 §4). Decoding is strict: anything but canonical base64 is refused,
// so a peer cannot smuggle data through lenient decoding. No line wrapping.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace tern {

std::string base64_encode(std::string_view data);

// Refuses (nullopt): characters outside the alphabet (whitespace included), a
// length that is not a multiple of 4, "=" anywhere but the last one or two
// places, and non-zero bits in the padding (RFC 4648 §3.5: canonical form).
// The empty string decodes to the empty string.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace tern
