#include "runtime/privileges.hpp"

#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

namespace tern::runtime {

std::string hand_over_directory(const std::filesystem::path& dir, const std::string& user) {
  const passwd* pw = ::getpwnam(user.c_str());
  if (!pw) return fmt::format("no such user \"{}\"", user);
  auto own = [&](const std::filesystem::path& p) {
    if (::lchown(p.c_str(), pw->pw_uid, pw->pw_gid) != 0)
      return fmt::format("chown {}: {}", p.string(), std::strerror(errno));
    return std::string{};
  };
  if (auto e = own(dir); !e.empty()) return e;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (auto e = own(it->path()); !e.empty()) return e;
  }
  return ec ? fmt::format("walk {}: {}", dir.string(), ec.message()) : std::string{};
}

std::string drop_privileges(const std::string& user) {
  const passwd* pw = ::getpwnam(user.c_str());
  if (!pw) return fmt::format("no such user \"{}\"", user);
  if (::initgroups(pw->pw_name, pw->pw_gid) != 0 || ::setgid(pw->pw_gid) != 0 || ::setuid(pw->pw_uid) != 0)
    return fmt::format("cannot become \"{}\": {}", user, std::strerror(errno));
  if (::setuid(0) == 0) return "privileges could be regained after setuid";  // paranoia
  return {};
}

}  // namespace tern::runtime
