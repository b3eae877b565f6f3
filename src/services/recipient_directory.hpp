// Who receives mail here: the local domains, the users and their aliases, and
// the mailbox each address ends in. Built from the config; immutable, so it can
// be shared between threads and swapped whole on reload.
#pragma once
#include <filesystem>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "base/config.hpp"
#include "formats/mail_address.hpp"

namespace tern {

struct Mailbox {
  std::string address;  // canonical user address, lower-case: "demo@example.test"
  std::string domain;
  std::string local_part;
  // <mail_dir>/<domain>/<localpart>/Maildir
  std::filesystem::path maildir(const std::filesystem::path& mail_dir) const;
};

class RecipientDirectory {
 public:
  // Throws ConfigError when an address cannot be a mailbox on disk.
  explicit RecipientDirectory(const Config& config);

  bool is_local_domain(std::string_view domain) const;
  // The mailbox for a local address (user, alias, postmaster), or nothing.
  std::optional<Mailbox> resolve(const MailAddress& address) const;

 private:
  std::unordered_set<std::string> domains_;
  std::unordered_map<std::string, Mailbox> addresses_;  // lookup key -> mailbox
  std::string first_domain_;
};

}  // namespace tern
