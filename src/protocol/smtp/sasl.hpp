// Server-side SASL for SMTP AUTH (RFC 4954) with the PLAIN (RFC 4616) and
// LOGIN mechanisms: decoding of what the client sends. Pure; the password
// check itself is a service (it hashes, so it runs off the I/O thread).
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace tern::smtp {

struct SaslCredentials {
  std::string authzid;   // PLAIN only; empty when not given
  std::string username;  // authcid
  std::string password;
};

enum class SaslError { bad_base64, malformed, cancelled };

// "[authzid] NUL authcid NUL passwd", base64-encoded (RFC 4616 §2). Empty
// authcid or password, or more NULs, are malformed. "*" cancels (RFC 4954 §4).
struct PlainResult {
  std::optional<SaslCredentials> credentials;
  std::optional<SaslError> error;
};
PlainResult decode_plain(std::string_view base64_response);

// One LOGIN step: the base64 of the username or of the password.
struct LoginStep {
  std::optional<std::string> value;
  std::optional<SaslError> error;
};
LoginStep decode_login_step(std::string_view base64_response);

}  // namespace tern::smtp
