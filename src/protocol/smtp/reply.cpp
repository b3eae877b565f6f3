#include "protocol/smtp/reply.hpp"

#include <fmt/format.h>

namespace tern::smtp {

void Reply::render(std::string& out, bool with_enhanced) const {
  for (std::size_t i = 0; i < lines.size(); ++i) {
    char sep = i + 1 < lines.size() ? '-' : ' ';
    // RFC 2034 §3: the enhanced code leads the text on every line.
    if (with_enhanced && !enhanced.empty())
      fmt::format_to(std::back_inserter(out), "{}{}{} {}\r\n", code, sep, enhanced, lines[i]);
    else
      fmt::format_to(std::back_inserter(out), "{}{}{}\r\n", code, sep, lines[i]);
  }
}

}  // namespace tern::smtp
