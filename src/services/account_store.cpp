#include "services/account_store.hpp"

#include <fmt/format.h>
#include <sodium.h>
#include <sqlite3.h>

#include "base/strings.hpp"

namespace tern {
namespace {

Error db_error(sqlite3* db, std::string_view what) {
  return Error::temporary("Local error in account database", fmt::format("{}: {}", what, sqlite3_errmsg(db)));
}

Error user_error(std::string text) { return Error::permanent_failure(text, text); }

bool plausible_domain(const std::string& d) {
  return !d.empty() && d.find_first_of("@ \t<>/\\") == std::string::npos && d.front() != '.' && d.back() != '.';
}

bool plausible_address(const std::string& a) {
  auto at = a.rfind('@');
  return at != std::string::npos && at > 0 && plausible_domain(a.substr(at + 1)) &&
         a.find_first_of(" \t<>/\\\"") == std::string::npos && a.front() != '.';
}

}  // namespace

Result<std::string> hash_password(const std::string& password) {
  if (sodium_init() < 0) return std::unexpected(Error::temporary("crypto unavailable", "sodium_init failed"));
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
    return std::unexpected(Error::temporary("out of memory", "crypto_pwhash_str failed"));
  return std::string(out);
}

bool password_matches(const std::string& hash, const std::string& password) {
  if (sodium_init() < 0 || hash.empty()) return false;
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

Result<AccountStore> AccountStore::open(const std::filesystem::path& file) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr) !=
      SQLITE_OK) {
    Error e = db_error(db, "open " + file.string());
    sqlite3_close(db);
    return std::unexpected(e);
  }
  sqlite3_busy_timeout(db, 5000);
  AccountStore store(db);
  static constexpr const char* schema =
      "PRAGMA journal_mode=WAL;"
      "CREATE TABLE IF NOT EXISTS domains(name TEXT PRIMARY KEY);"
      "CREATE TABLE IF NOT EXISTS users(address TEXT PRIMARY KEY, password_hash TEXT NOT NULL);"
      "CREATE TABLE IF NOT EXISTS aliases(alias TEXT PRIMARY KEY, target TEXT NOT NULL);";
  char* err = nullptr;
  if (sqlite3_exec(db, schema, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string detail = err ? err : "schema";
    sqlite3_free(err);
    return std::unexpected(Error::temporary("Local error in account database", detail));
  }
  return store;
}

AccountStore::AccountStore(AccountStore&& o) noexcept : db_(o.db_) { o.db_ = nullptr; }
AccountStore& AccountStore::operator=(AccountStore&& o) noexcept {
  std::swap(db_, o.db_);
  return *this;
}
AccountStore::~AccountStore() {
  if (db_) sqlite3_close(db_);
}

Result<void> AccountStore::exec(const std::string& sql, const std::vector<std::string>& args, int* changes) const {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) return std::unexpected(db_error(db_, sql));
  for (std::size_t i = 0; i < args.size(); ++i)
    sqlite3_bind_text(st, static_cast<int>(i + 1), args[i].c_str(), -1, SQLITE_TRANSIENT);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc == SQLITE_CONSTRAINT) return std::unexpected(user_error("already exists"));
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return std::unexpected(db_error(db_, sql));
  if (changes) *changes = sqlite3_changes(db_);
  return {};
}

Result<void> AccountStore::add_domain(const std::string& domain) {
  std::string d = to_lower(domain);
  if (!plausible_domain(d)) return std::unexpected(user_error(fmt::format("\"{}\" is not a domain name", domain)));
  auto r = exec("INSERT INTO domains(name) VALUES(?)", {d});
  if (!r && r.error().permanent()) return std::unexpected(user_error(fmt::format("domain {} already exists", d)));
  return r;
}

Result<void> AccountStore::remove_domain(const std::string& domain) {
  int n = 0;
  if (auto r = exec("DELETE FROM domains WHERE name = ?", {to_lower(domain)}, &n); !r) return r;
  if (n == 0) return std::unexpected(user_error(fmt::format("no domain {}", to_lower(domain))));
  return {};
}

Result<void> AccountStore::add_user(const std::string& address, const std::string& password) {
  std::string a = to_lower(address);
  if (!plausible_address(a)) return std::unexpected(user_error(fmt::format("\"{}\" is not an address", address)));
  if (password.empty()) return std::unexpected(user_error("empty password"));
  auto hash = hash_password(password);
  if (!hash) return std::unexpected(hash.error());
  auto r = exec("INSERT INTO users(address, password_hash) VALUES(?, ?)", {a, *hash});
  if (!r && r.error().permanent()) return std::unexpected(user_error(fmt::format("user {} already exists", a)));
  return r;
}

Result<void> AccountStore::remove_user(const std::string& address) {
  int n = 0;
  if (auto r = exec("DELETE FROM users WHERE address = ?", {to_lower(address)}, &n); !r) return r;
  if (n == 0) return std::unexpected(user_error(fmt::format("no user {}", to_lower(address))));
  return {};
}

Result<void> AccountStore::set_password(const std::string& address, const std::string& password) {
  std::string a = to_lower(address);
  if (password.empty()) return std::unexpected(user_error("empty password"));
  auto hash = hash_password(password);
  if (!hash) return std::unexpected(hash.error());
  // A user known only from the config file gets a row here.
  return exec("INSERT INTO users(address, password_hash) VALUES(?, ?) "
              "ON CONFLICT(address) DO UPDATE SET password_hash = excluded.password_hash",
              {a, *hash});
}

Result<void> AccountStore::add_alias(const std::string& alias, const std::string& target) {
  std::string a = to_lower(alias), t = to_lower(target);
  // "@domain" is a catch-all for the domain.
  if (!(plausible_address(a) || (a.starts_with('@') && plausible_domain(a.substr(1)))) || !plausible_address(t))
    return std::unexpected(user_error("expected: tern alias add ALIAS@DOMAIN TARGET@DOMAIN (or @DOMAIN for a catch-all)"));
  auto r = exec("INSERT INTO aliases(alias, target) VALUES(?, ?)", {a, t});
  if (!r && r.error().permanent()) return std::unexpected(user_error(fmt::format("alias {} already exists", a)));
  return r;
}

Result<void> AccountStore::remove_alias(const std::string& alias) {
  int n = 0;
  if (auto r = exec("DELETE FROM aliases WHERE alias = ?", {to_lower(alias)}, &n); !r) return r;
  if (n == 0) return std::unexpected(user_error(fmt::format("no alias {}", to_lower(alias))));
  return {};
}

Result<AccountSnapshot> AccountStore::snapshot() const {
  AccountSnapshot s;
  auto rows = [&](const char* sql, auto&& each) -> Result<void> {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &st, nullptr) != SQLITE_OK) return std::unexpected(db_error(db_, sql));
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) each(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return std::unexpected(db_error(db_, sql));
    return {};
  };
  auto text = [](sqlite3_stmt* st, int col) {
    const unsigned char* t = sqlite3_column_text(st, col);
    return std::string(t ? reinterpret_cast<const char*>(t) : "");
  };
  if (auto r = rows("SELECT name FROM domains ORDER BY name", [&](sqlite3_stmt* st) { s.domains.push_back(text(st, 0)); }); !r)
    return std::unexpected(r.error());
  if (auto r = rows("SELECT address FROM users ORDER BY address", [&](sqlite3_stmt* st) { s.users.push_back(text(st, 0)); }); !r)
    return std::unexpected(r.error());
  if (auto r = rows("SELECT alias, target FROM aliases ORDER BY alias",
                    [&](sqlite3_stmt* st) { s.aliases.emplace_back(text(st, 0), text(st, 1)); });
      !r)
    return std::unexpected(r.error());
  return s;
}

Result<bool> AccountStore::verify(const std::string& address, const std::string& password) const {
  sqlite3_stmt* st = nullptr;
  const char* sql = "SELECT password_hash FROM users WHERE address = ?";
  if (sqlite3_prepare_v2(db_, sql, -1, &st, nullptr) != SQLITE_OK) return std::unexpected(db_error(db_, sql));
  std::string a = to_lower(address);
  sqlite3_bind_text(st, 1, a.c_str(), -1, SQLITE_TRANSIENT);
  std::string hash;
  if (sqlite3_step(st) == SQLITE_ROW) {
    const unsigned char* t = sqlite3_column_text(st, 0);
    hash = t ? reinterpret_cast<const char*>(t) : "";
  }
  sqlite3_finalize(st);
  if (hash.empty()) {
    // Spend the same time as a real check, so a missing user looks like a
    // wrong password to whoever is timing us.
    static const std::string dummy = hash_password("dummy").value_or("");
    password_matches(dummy, password);
    return false;
  }
  return password_matches(hash, password);
}

}  // namespace tern
