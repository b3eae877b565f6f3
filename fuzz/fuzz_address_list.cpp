// extract_addresses and split_header (tern send -t reads recipients from a
// message's To/Cc/Bcc) on arbitrary text: every address found contains '@'
// and no line break, and every header range lies inside the input and ends
// where the next one begins or before.
#include <cstdint>
#include <string>
#include <string_view>

#include "formats/address_list.hpp"
#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tern;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const auto& a : extract_addresses(text)) {
    FUZZ_CHECK(a.find('@') != std::string::npos);
    FUZZ_CHECK(a.find('\r') == std::string::npos && a.find('\n') == std::string::npos);
  }
  std::size_t last_end = 0;
  for (const auto& h : split_header(text)) {
    FUZZ_CHECK(h.begin >= last_end && h.begin < h.end && h.end <= text.size());
    FUZZ_CHECK(!h.name.empty() || text.substr(h.begin, h.end - h.begin).find(':') != std::string_view::npos);
    last_end = h.end;
  }
  return 0;
}
