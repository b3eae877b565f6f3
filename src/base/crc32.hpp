// CRC-32 (IEEE 802.3, as zlib) for detecting torn or corrupt records in the
// commit log after a crash.
#pragma once
#include <cstdint>
#include <string_view>

namespace tern {

std::uint32_t crc32(std::string_view data, std::uint32_t crc = 0);

}  // namespace tern
