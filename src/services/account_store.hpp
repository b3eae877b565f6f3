// The account database: domains, users with argon2id password hashes
// (libsodium), and aliases, in SQLite (WAL) at <data_dir>/accounts.db. It
// adds to the [[domain]]/[[user]] entries of the config file (both apply; a
// config user gets a password by `tern user passwd`). Blocking calls (SQLite,
// password hashing): never on an I/O thread. Each call opens its own
// statement; one AccountStore per thread.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "base/error.hpp"

struct sqlite3;

namespace tern {

struct AccountSnapshot {
  std::vector<std::string> domains;                           // lower-case
  std::vector<std::string> users;                             // lower-case addresses
  std::vector<std::pair<std::string, std::string>> aliases;   // alias -> target, lower-case
};

class AccountStore {
 public:
  static Result<AccountStore> open(const std::filesystem::path& file);
  AccountStore(AccountStore&&) noexcept;
  AccountStore& operator=(AccountStore&&) noexcept;
  ~AccountStore();

  Result<void> add_domain(const std::string& domain);
  Result<void> remove_domain(const std::string& domain);
  Result<void> add_user(const std::string& address, const std::string& password);
  Result<void> remove_user(const std::string& address);
  Result<void> set_password(const std::string& address, const std::string& password);
  Result<void> add_alias(const std::string& alias, const std::string& target);
  Result<void> remove_alias(const std::string& alias);
  Result<AccountSnapshot> snapshot() const;
  // True when the password matches the stored argon2id hash. A user without a
  // stored password (config-only) never authenticates.
  Result<bool> verify(const std::string& address, const std::string& password) const;

 private:
  explicit AccountStore(sqlite3* db) : db_(db) {}
  Result<void> exec(const std::string& sql, const std::vector<std::string>& args, int* changes = nullptr) const;
  sqlite3* db_ = nullptr;
};

// argon2id via libsodium (crypto_pwhash_str, interactive limits).
Result<std::string> hash_password(const std::string& password);
bool password_matches(const std::string& hash, const std::string& password);

}  // namespace tern
