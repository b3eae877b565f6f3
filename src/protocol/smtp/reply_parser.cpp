#include "protocol/smtp/reply_parser.hpp"

#include <fmt/format.h>

namespace tern::smtp {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::size_t enhanced_code_length(std::string_view text, int reply_code) {
  // RFC 3463 §2: class "." subject "." detail; RFC 2034 §3: the class is the
  // reply code's first digit, so "550 2.0.0" has no enhanced code.
  char cls = static_cast<char>('0' + reply_code / 100);
  if (text.size() < 5 || text[0] != cls || (cls != '2' && cls != '4' && cls != '5') || text[1] != '.') return 0;
  std::size_t i = 2;
  for (int part = 0; part < 2; ++part) {
    std::size_t start = i;
    while (i < text.size() && i - start < 4 && is_digit(text[i])) ++i;
    std::size_t digits = i - start;
    if (digits == 0 || digits > 3) return 0;
    if (part == 0) {
      if (i >= text.size() || text[i] != '.') return 0;
      ++i;
    }
  }
  if (i < text.size() && text[i] != ' ') return 0;
  return i;
}

std::string reply_summary(const Reply& reply) {
  std::string out = fmt::format("{}", reply.code);
  if (!reply.enhanced.empty()) out += " " + reply.enhanced;
  for (const auto& line : reply.lines) {
    if (line.empty()) continue;
    out += ' ';
    out += line;
  }
  return out;
}

ReplyStep ReplyParser::fail(std::string reason) {
  failed_ = true;
  line_.clear();
  lines_.clear();
  return std::unexpected(ReplyError{std::move(reason)});
}

ReplyStep ReplyParser::parse(std::string_view& input) {
  if (failed_) return std::unexpected(ReplyError{"reply stream already failed"});
  while (!input.empty()) {
    std::size_t nl = input.find('\n');
    if (nl == std::string_view::npos) {
      // Keep at most one unterminated line, and not past the limit (the LF
      // still to come counts, hence max_line - 1).
      if (line_.size() + input.size() > limits_.max_line - 1)
        return fail(fmt::format("reply line longer than {} octets", limits_.max_line));
      line_.append(input);
      input = {};
      return std::optional<Reply>{};
    }
    if (line_.size() + nl + 1 > limits_.max_line)
      return fail(fmt::format("reply line longer than {} octets", limits_.max_line));
    line_.append(input.substr(0, nl));
    input.remove_prefix(nl + 1);
    // RFC 5321 §4.2 ends lines with CRLF; like most clients we also take a bare
    // LF here: a reply cannot smuggle anything, and a lone CR stays as text.
    std::string_view line = line_;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    ReplyStep step = take_line(line);
    line_.clear();
    if (!step || *step) return step;
  }
  return std::optional<Reply>{};
}

ReplyStep ReplyParser::take_line(std::string_view line) {
  // RFC 5321 §4.2: Reply-code = %x32-35 %x30-35 %x30-39; we accept any digits
  // after the first, which must name one of the four reply classes.
  if (line.size() < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2]))
    return fail("reply does not start with a three-digit code");
  if (line[0] < '2' || line[0] > '5') return fail("reply code outside 2xx-5xx");
  int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  // "250-text" continues, "250 text" ends; a bare "250" ends with no text.
  bool last = true;
  if (line.size() > 3) {
    if (line[3] == '-') last = false;
    else if (line[3] != ' ') return fail("reply code not followed by space or hyphen");
  }
  std::string_view text = line.size() > 4 ? line.substr(4) : std::string_view{};
  if (lines_.empty()) {
    code_ = code;
    std::size_t n = enhanced_code_length(text, code);
    enhanced_.assign(text.substr(0, n));
  } else if (code != code_) {
    // RFC 5321 §4.2.1: every line of a multi-line reply carries the same code.
    return fail("multi-line reply mixes reply codes");
  }
  if (lines_.size() >= limits_.max_lines)
    return fail(fmt::format("reply longer than {} lines", limits_.max_lines));
  // RFC 2034 §3: each line repeats the enhanced code; keep only the text.
  if (!enhanced_.empty() && text.starts_with(enhanced_) &&
      (text.size() == enhanced_.size() || text[enhanced_.size()] == ' '))
    text.remove_prefix(std::min(text.size(), enhanced_.size() + 1));
  lines_.emplace_back(text);
  if (!last) return std::optional<Reply>{};
  Reply reply{code_, std::move(enhanced_), std::move(lines_)};
  enhanced_.clear();
  lines_.clear();
  return std::optional<Reply>{std::move(reply)};
}

}  // namespace tern::smtp
