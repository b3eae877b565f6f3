#include "protocol/smtp/command.hpp"

#include "base/strings.hpp"

namespace tern::smtp {
namespace {
struct VerbName {
  std::string_view name;
  Verb verb;
};
constexpr VerbName verbs[] = {
    {"HELO", Verb::helo}, {"EHLO", Verb::ehlo}, {"MAIL", Verb::mail}, {"RCPT", Verb::rcpt},
    {"DATA", Verb::data}, {"BDAT", Verb::bdat}, {"RSET", Verb::rset}, {"NOOP", Verb::noop},
    {"QUIT", Verb::quit}, {"VRFY", Verb::vrfy}, {"EXPN", Verb::expn}, {"HELP", Verb::help},
    {"STARTTLS", Verb::starttls}, {"AUTH", Verb::auth},
};
}  // namespace

ParsedCommand parse_command(std::string_view line) {
  ParsedCommand out;
  auto sp = line.find(' ');
  std::string_view word = line.substr(0, sp);
  std::string_view arg = sp == std::string_view::npos ? std::string_view{} : line.substr(sp + 1);
  out.command.word = word;
  for (const auto& v : verbs) {
    if (iequals(word, v.name)) {
      out.command.verb = v.verb;
      break;
    }
  }
  // Trailing spaces are noise; leading ones after the verb too (RFC 5321 §4.1.1
  // has exactly one, but being liberal here costs nothing).
  arg = trim(arg);
  if (out.command.verb == Verb::mail || out.command.verb == Verb::rcpt) {
    std::string_view keyword = out.command.verb == Verb::mail ? "FROM:" : "TO:";
    if (!istarts_with(arg, keyword)) {
      out.path_keyword_missing = true;
    } else {
      arg.remove_prefix(keyword.size());
    }
  }
  out.command.argument = arg;
  return out;
}

}  // namespace tern::smtp
