#include "base/error.hpp"

#include <cstring>
#include <fmt/format.h>

namespace tern {

Error Error::temporary(std::string client_text, std::string detail) {
  return Error{Kind::temporary, std::move(client_text), std::move(detail)};
}

Error Error::permanent_failure(std::string client_text, std::string detail) {
  return Error{Kind::permanent, std::move(client_text), std::move(detail)};
}

Error Error::from_errno(std::string_view what, int err) {
  return Error{Kind::temporary, "Local error in processing",
               fmt::format("{}: {}", what, std::strerror(err))};
}

}  // namespace tern
