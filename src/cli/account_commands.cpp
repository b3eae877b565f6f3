#include "cli/account_commands.hpp"

#include <csignal>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "cli/daemon_signal.hpp"
#include "cli/password_prompt.hpp"
#include "services/account_store.hpp"
#include "services/durable_file.hpp"

namespace tern::cli {
namespace {

int g_exit = 0;

std::optional<AccountStore> open_store(const Config& cfg) {
  if (auto r = make_private_dirs(cfg.data_dir); !r) {
    std::fprintf(stderr, "tern: %s\n", r.error().detail.c_str());
    g_exit = 1;
    return std::nullopt;
  }
  auto s = AccountStore::open(cfg.data_dir / "accounts.db");
  if (!s) {
    std::fprintf(stderr, "tern: %s\n", s.error().detail.c_str());
    g_exit = 1;
    return std::nullopt;
  }
  return std::move(*s);
}

void report(const Result<void>& r, const std::string& done) {
  if (!r) {
    std::fprintf(stderr, "tern: %s\n", r.error().permanent() ? r.error().client_text.c_str() : r.error().detail.c_str());
    g_exit = 1;
    return;
  }
  std::printf("%s\n", done.c_str());
}

// Opens the store, applies one change, reports it, and tells a running ternd
// (SIGHUP) so it applies without a restart.
void change(const std::function<Config()>& load_config,
            const std::function<Result<void>(AccountStore&)>& apply, const std::string& done) {
  Config cfg = load_config();
  auto store = open_store(cfg);
  if (!store) return;
  report(apply(*store), done);
  if (!g_exit) signal_daemon(cfg, SIGHUP);
}

std::optional<std::string> read_password(bool from_stdin) {
  std::string pw;
  if (from_stdin || !::isatty(STDIN_FILENO)) {
    if (!std::getline(std::cin, pw)) return std::nullopt;
    if (!pw.empty() && pw.back() == '\r') pw.pop_back();
    return pw;
  }
  pw = prompt_secret("Password: ");
  if (prompt_secret("Again: ") != pw) {
    std::fprintf(stderr, "tern: the passwords differ\n");
    return std::nullopt;
  }
  return pw;
}

// Runs fn with the password read from stdin or the prompt, if one was given.
void with_password(bool from_stdin, const std::function<void(const std::string&)>& fn) {
  auto pw = read_password(from_stdin);
  if (!pw || pw->empty()) {
    std::fprintf(stderr, "tern: no password given\n");
    g_exit = 1;
    return;
  }
  fn(*pw);
}

}  // namespace

int account_exit_code() { return g_exit; }

void add_account_commands(CLI::App& app, std::function<Config()> load_config) {
  // --- users ---
  auto* user = app.add_subcommand("user", "manage users (accounts with a password)");
  user->require_subcommand(1);
  auto address = std::make_shared<std::string>();
  auto from_stdin = std::make_shared<bool>(false);
  auto json = std::make_shared<bool>(false);

  auto* add = user->add_subcommand("add", "add a user; the password is asked for, or read with --password-stdin");
  add->add_option("address", *address, "user@domain")->required();
  add->add_flag("--password-stdin", *from_stdin, "read the password from standard input");
  add->callback([=] {
    with_password(*from_stdin, [&](const std::string& pw) {
      change(load_config, [&](AccountStore& st) { return st.add_user(*address, pw); }, "added user " + *address);
    });
  });

  auto* passwd = user->add_subcommand("passwd", "set a user's password (also for users of the config file)");
  passwd->add_option("address", *address, "user@domain")->required();
  passwd->add_flag("--password-stdin", *from_stdin, "read the password from standard input");
  passwd->callback([=] {
    with_password(*from_stdin, [&](const std::string& pw) {
      change(load_config, [&](AccountStore& st) { return st.set_password(*address, pw); },
             "password changed for " + *address);
    });
  });

  auto* del = user->add_subcommand("del", "remove a user (the mailbox stays on disk)");
  del->add_option("address", *address, "user@domain")->required();
  del->callback([=] {
    change(load_config, [&](AccountStore& st) { return st.remove_user(*address); }, "removed user " + *address);
  });

  auto list_cmd = [=](CLI::App* parent, const char* what) {
    auto* list = parent->add_subcommand("list", std::string("list ") + what);
    list->add_flag("--json", *json, "machine-readable output");
    return list;
  };
  list_cmd(user, "users")->callback([=] {
    Config cfg = load_config();
    auto store = open_store(cfg);
    if (!store) return;
    auto snap = store->snapshot();
    if (!snap) return report(std::unexpected(snap.error()), "");
    nlohmann::json out = nlohmann::json::array();
    for (const auto& u : cfg.users) out.push_back({{"address", u.address}, {"source", "config"}, {"password", false}});
    for (const auto& u : snap->users) out.push_back({{"address", u}, {"source", "database"}, {"password", true}});
    if (*json) return (void)std::printf("%s\n", out.dump(2).c_str());
    for (const auto& u : out)
      std::printf("%-40s %s\n", u["address"].get<std::string>().c_str(), u["source"].get<std::string>().c_str());
  });

  // --- domains ---
  auto* domain = app.add_subcommand("domain", "manage the domains we receive mail for");
  domain->require_subcommand(1);
  auto name = std::make_shared<std::string>();
  auto* dadd = domain->add_subcommand("add", "add a domain");
  dadd->add_option("domain", *name)->required();
  dadd->callback([=] {
    change(load_config, [&](AccountStore& st) { return st.add_domain(*name); }, "added domain " + *name);
  });
  auto* ddel = domain->add_subcommand("del", "remove a domain");
  ddel->add_option("domain", *name)->required();
  ddel->callback([=] {
    change(load_config, [&](AccountStore& st) { return st.remove_domain(*name); }, "removed domain " + *name);
  });
  list_cmd(domain, "domains")->callback([=] {
    Config cfg = load_config();
    auto store = open_store(cfg);
    if (!store) return;
    auto snap = store->snapshot();
    if (!snap) return report(std::unexpected(snap.error()), "");
    nlohmann::json out = nlohmann::json::array();
    for (const auto& d : cfg.domains) out.push_back({{"domain", d}, {"source", "config"}});
    for (const auto& d : snap->domains) out.push_back({{"domain", d}, {"source", "database"}});
    if (*json) return (void)std::printf("%s\n", out.dump(2).c_str());
    for (const auto& d : out)
      std::printf("%-40s %s\n", d["domain"].get<std::string>().c_str(), d["source"].get<std::string>().c_str());
  });

  // --- aliases ---
  auto* alias = app.add_subcommand("alias", "manage aliases (\"@domain\" is a catch-all)");
  alias->require_subcommand(1);
  auto target = std::make_shared<std::string>();
  auto* aadd = alias->add_subcommand("add", "add an alias for a user");
  aadd->add_option("alias", *name, "alias@domain or @domain")->required();
  aadd->add_option("target", *target, "user@domain")->required();
  aadd->callback([=] {
    change(load_config, [&](AccountStore& st) { return st.add_alias(*name, *target); },
           "added alias " + *name + " -> " + *target);
  });
  auto* adel = alias->add_subcommand("del", "remove an alias");
  adel->add_option("alias", *name)->required();
  adel->callback([=] {
    change(load_config, [&](AccountStore& st) { return st.remove_alias(*name); }, "removed alias " + *name);
  });
  list_cmd(alias, "aliases")->callback([=] {
    Config cfg = load_config();
    auto store = open_store(cfg);
    if (!store) return;
    auto snap = store->snapshot();
    if (!snap) return report(std::unexpected(snap.error()), "");
    nlohmann::json out = nlohmann::json::array();
    for (const auto& u : cfg.users)
      for (const auto& a : u.aliases) out.push_back({{"alias", a}, {"target", u.address}, {"source", "config"}});
    for (const auto& [a, t] : snap->aliases) out.push_back({{"alias", a}, {"target", t}, {"source", "database"}});
    if (*json) return (void)std::printf("%s\n", out.dump(2).c_str());
    for (const auto& a : out)
      std::printf("%-40s -> %s (%s)\n", a["alias"].get<std::string>().c_str(), a["target"].get<std::string>().c_str(),
                  a["source"].get<std::string>().c_str());
  });
}

}  // namespace tern::cli
