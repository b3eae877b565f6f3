// The result words of the message-authentication checks, shared by SPF,
// DKIM verification, DMARC and the Authentication-Results header. The words
// are the ones RFC 8601 §2.7 registers, so to_string() is what goes into the
// header and what `tern check` prints.
#pragma once
#include <string_view>

namespace tern::auth {

// RFC 7208 §2.6.
enum class SpfResult { none, neutral, pass, fail, softfail, temperror, permerror };
// RFC 8601 §2.7.1 (RFC 6376 §6.1 outcomes).
enum class DkimResult { none, pass, fail, policy, neutral, temperror, permerror };
// RFC 7489 §11.2.
enum class DmarcResult { none, pass, fail, temperror, permerror };

constexpr std::string_view to_string(SpfResult r) {
  switch (r) {
    case SpfResult::none: return "none";
    case SpfResult::neutral: return "neutral";
    case SpfResult::pass: return "pass";
    case SpfResult::fail: return "fail";
    case SpfResult::softfail: return "softfail";
    case SpfResult::temperror: return "temperror";
    case SpfResult::permerror: return "permerror";
  }
  return "?";
}
constexpr std::string_view to_string(DkimResult r) {
  switch (r) {
    case DkimResult::none: return "none";
    case DkimResult::pass: return "pass";
    case DkimResult::fail: return "fail";
    case DkimResult::policy: return "policy";
    case DkimResult::neutral: return "neutral";
    case DkimResult::temperror: return "temperror";
    case DkimResult::permerror: return "permerror";
  }
  return "?";
}
constexpr std::string_view to_string(DmarcResult r) {
  switch (r) {
    case DmarcResult::none: return "none";
    case DmarcResult::pass: return "pass";
    case DmarcResult::fail: return "fail";
    case DmarcResult::temperror: return "temperror";
    case DmarcResult::permerror: return "permerror";
  }
  return "?";
}

}  // namespace tern::auth
