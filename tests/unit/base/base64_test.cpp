// Base64 against the RFC 4648 §10 test vectors and the seed AUTH dialogue, and
// the strict decoder's refusals (RFC 4648 §3.3, §3.5).
#include "base/base64.hpp"

#include <gtest/gtest.h>

namespace tern {
namespace {

TEST(Base64, Rfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},           {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
  };
  for (auto [plain, encoded] : vectors) {
    EXPECT_EQ(base64_encode(plain), encoded);
    EXPECT_EQ(base64_decode(encoded), std::optional<std::string>(plain)) << encoded;
  }
}

TEST(Base64, SeedAuthLogin) {
  EXPECT_EQ(base64_encode("costa@amaxit.net"), "Y29zdGFAYW1heGl0Lm5ldA==");
  EXPECT_EQ(base64_encode("1982214"), "MTk4MjIxNA==");
  EXPECT_EQ(base64_decode("VXNlcm5hbWU6"), std::optional<std::string>("Username:"));
  EXPECT_EQ(base64_decode("UGFzc3dvcmQ6"), std::optional<std::string>("Password:"));
}

TEST(Base64, BinaryRoundTrip) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (std::size_t n = 0; n <= all.size(); n += 17) {
    std::string piece = all.substr(0, n);
    EXPECT_EQ(base64_decode(base64_encode(piece)), std::optional<std::string>(piece));
  }
  EXPECT_EQ(base64_encode(std::string_view("\0a\0b", 4)), "AGEAYg==");
}

TEST(Base64, StrictDecodeRefusesNonCanonicalInput) {
  for (const char* bad : {"Zg", "Zg=", "Zm9", "Z===", "====", "Zg==Zg==", "Zm=v", "Zm9v\r\n", " Zm9v", "Zm9v YmFy",
                          "Zm9-", "Zm9_", "Zh==", "Zm9=", "Zm8=="}) {
    EXPECT_EQ(base64_decode(bad), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace tern
