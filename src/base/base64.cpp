#include "base/base64.hpp"

#include <array>
#include <cstdint>

namespace tern {
namespace {

constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// 0..63 for alphabet characters, 64 for everything else.
constexpr std::array<std::uint8_t, 256> decode_table = [] {
  std::array<std::uint8_t, 256> t{};
  t.fill(64);
  for (std::size_t i = 0; i < alphabet.size(); ++i) t[static_cast<unsigned char>(alphabet[i])] = static_cast<std::uint8_t>(i);
  return t;
}();

}  // namespace

std::string base64_encode(std::string_view data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    std::uint32_t v = static_cast<std::uint32_t>(static_cast<unsigned char>(data[i])) << 16 |
                      static_cast<std::uint32_t>(static_cast<unsigned char>(data[i + 1])) << 8 |
                      static_cast<unsigned char>(data[i + 2]);
    out += alphabet[v >> 18 & 63];
    out += alphabet[v >> 12 & 63];
    out += alphabet[v >> 6 & 63];
    out += alphabet[v & 63];
  }
  std::size_t rest = data.size() - i;
  if (rest > 0) {
    std::uint32_t v = static_cast<std::uint32_t>(static_cast<unsigned char>(data[i])) << 16;
    if (rest == 2) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(data[i + 1])) << 8;
    out += alphabet[v >> 18 & 63];
    out += alphabet[v >> 12 & 63];
    out += rest == 2 ? alphabet[v >> 6 & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::size_t pad = 0;
  if (!text.empty() && text.back() == '=') pad = text[text.size() - 2] == '=' ? 2 : 1;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    bool last = i + 4 == text.size();
    std::size_t data_chars = last ? 4 - pad : 4;
    std::uint32_t v = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      std::uint8_t d = 0;
      if (k < data_chars) {
        d = decode_table[static_cast<unsigned char>(text[i + k])];
        if (d == 64) return std::nullopt;  // outside the alphabet, or "=" too early
      }
      v = v << 6 | d;
    }
    out += static_cast<char>(v >> 16 & 0xff);
    if (data_chars >= 3) out += static_cast<char>(v >> 8 & 0xff);
    if (data_chars == 4) out += static_cast<char>(v & 0xff);
    // RFC 4648 §3.5: the bits under the padding must be zero.
    if (data_chars == 2 && (v & 0xffff) != 0) return std::nullopt;
    if (data_chars == 3 && (v & 0xff) != 0) return std::nullopt;
  }
  return out;
}

}  // namespace tern
