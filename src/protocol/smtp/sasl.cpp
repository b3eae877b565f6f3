#include "protocol/smtp/sasl.hpp"

#include "base/base64.hpp"

namespace tern::smtp {

PlainResult decode_plain(std::string_view response) {
  if (response == "*") return {std::nullopt, SaslError::cancelled};
  auto raw = base64_decode(response);
  if (!raw) return {std::nullopt, SaslError::bad_base64};
  auto first = raw->find('\0');
  if (first == std::string::npos) return {std::nullopt, SaslError::malformed};
  auto second = raw->find('\0', first + 1);
  if (second == std::string::npos || raw->find('\0', second + 1) != std::string::npos)
    return {std::nullopt, SaslError::malformed};
  SaslCredentials c{raw->substr(0, first), raw->substr(first + 1, second - first - 1), raw->substr(second + 1)};
  if (c.username.empty() || c.password.empty()) return {std::nullopt, SaslError::malformed};
  return {std::move(c), std::nullopt};
}

LoginStep decode_login_step(std::string_view response) {
  if (response == "*") return {std::nullopt, SaslError::cancelled};
  auto raw = base64_decode(response);
  if (!raw) return {std::nullopt, SaslError::bad_base64};
  if (raw->empty() || raw->find('\0') != std::string::npos) return {std::nullopt, SaslError::malformed};
  return {std::move(*raw), std::nullopt};
}

}  // namespace tern::smtp
