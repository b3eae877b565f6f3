// RFC 5321 §4.1.2 paths and mailboxes as they appear in MAIL FROM and RCPT TO.
// Parsing only: no policy (who may send where) lives here.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tern {

struct MailAddress {
  std::string local_part;  // as written, quotes included ("a b" stays quoted)
  std::string domain;      // as written (case kept for display)

  bool is_null() const { return local_part.empty() && domain.empty(); }
  std::string to_string() const;  // local@domain, or empty for the null path
  // The form used to look addresses up: local part unquoted where that is
  // lossless, domain lower-cased (RFC 5321 §2.4: local parts are case-sensitive
  // in principle; like Postfix we match them case-insensitively).
  std::string lookup_key() const;
  bool needs_smtputf8() const;  // any octet >= 0x80 (RFC 6531)
};

struct EsmtpParam {
  std::string keyword;  // upper-cased
  std::string value;    // empty when the parameter has no "="
  bool has_value = false;
};

struct ParsedPath {
  MailAddress address;
  std::vector<EsmtpParam> params;
};

enum class PathKind { reverse_path, forward_path };

// Parses what follows "MAIL FROM:" or "RCPT TO:". Accepts the strict RFC form
// "<a@b> PARAMS", the null path "<>" (reverse path only), "<postmaster>"
// (forward path only, RFC 5321 §4.1.1.3), source routes "<@x,@y:a@b>" (route
// ignored, §C) and — because real clients and the seed articles send it — a bare
// address without angle brackets. Returns the reason on failure.
struct PathError {
  std::string reason;
};
std::optional<ParsedPath> parse_path(std::string_view text, PathKind kind, std::string* why = nullptr);

// Parses a whole address "local@domain" (used for configured users, aliases).
std::optional<MailAddress> parse_mailbox(std::string_view text);

}  // namespace tern
