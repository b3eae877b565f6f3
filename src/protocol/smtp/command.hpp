// Splits one SMTP command line into its verb and argument (RFC 5321 §4.1.1).
// Verbs are case-insensitive; arguments are kept exactly as sent.
#pragma once
#include <string_view>

namespace tern::smtp {

enum class Verb { helo, ehlo, mail, rcpt, data, bdat, rset, noop, quit, vrfy, expn, help, starttls, auth, unknown };

struct Command {
  Verb verb = Verb::unknown;
  std::string_view argument;  // after the verb and its separating space(s)
  std::string_view word;      // the verb as sent, for "unknown" logging
};

// line excludes the CRLF. For MAIL and RCPT the argument starts after
// "FROM:"/"TO:"; a MAIL/RCPT without that keyword parses as the verb with
// path_keyword_missing set, so the caller can answer 501.
struct ParsedCommand {
  Command command;
  bool path_keyword_missing = false;
};
ParsedCommand parse_command(std::string_view line);

}  // namespace tern::smtp
