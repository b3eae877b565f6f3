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
#include "services/account_store.hpp"

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
  // accounts: what the account database adds (domains, users, aliases; an
  // alias "@domain" catches every unknown local part of that domain).
  explicit RecipientDirectory(const Config& config, const AccountSnapshot& accounts = {});

  bool is_local_domain(std::string_view domain) const;
  // May the authenticated user send as this address? Its own address, or an
  // alias that ends in its mailbox (RFC 6409 §8: the MSA checks the sender).
  bool owns(const std::string& user, const MailAddress& sender) const;
  // The mailbox for a local address (user, alias, postmaster), or nothing.
  std::optional<Mailbox> resolve(const MailAddress& address) const;

 private:
  std::unordered_set<std::string> domains_;
  std::unordered_map<std::string, Mailbox> addresses_;  // lookup key -> mailbox
  std::string first_domain_;
  std::unordered_map<std::string, Mailbox> catch_all_;  // domain -> mailbox
};

}  // namespace tern
