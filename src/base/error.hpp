// Errors as values on the request path: a service failure says whether it is
// temporary (retry later, 4xx) or permanent (5xx), carries a generic text that is
// safe to show a client, and the detail that only goes to the log.
#pragma once
#include <expected>
#include <string>

namespace tern {

struct Error {
  enum class Kind { temporary, permanent };
  Kind kind = Kind::temporary;
  std::string client_text;  // safe for the peer: no paths, no internals
  std::string detail;       // for the log only

  bool permanent() const { return kind == Kind::permanent; }
  static Error temporary(std::string client_text, std::string detail);
  static Error permanent_failure(std::string client_text, std::string detail);
  // errno-based failure of a local resource (disk, file system): always temporary.
  static Error from_errno(std::string_view what, int err);
};

template <typename T>
using Result = std::expected<T, Error>;

}  // namespace tern
