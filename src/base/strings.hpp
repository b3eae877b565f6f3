// Small string helpers shared by every layer. ASCII only: mail protocols are
// case-insensitive in ASCII, never in the locale's sense.
#pragma once
#include <string>
#include <string_view>

namespace tern {

char ascii_lower(char c);
std::string to_lower(std::string_view s);
bool iequals(std::string_view a, std::string_view b);
bool istarts_with(std::string_view s, std::string_view prefix);
std::string_view trim(std::string_view s);
// Makes client-supplied text safe for a one-line log: control bytes and
// non-ASCII become \xNN, and it is cut at max_len.
std::string log_escape(std::string_view s, std::size_t max_len = 200);

}  // namespace tern
