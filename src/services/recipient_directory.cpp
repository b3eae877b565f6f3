#include "services/recipient_directory.hpp"

#include <fmt/format.h>

#include "base/strings.hpp"

namespace tern {
namespace {

// The local part names a directory: keep it to characters that cannot walk
// out of the mail tree or hide (no '/', no leading '.').
bool safe_path_component(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.size() > 64) return false;
  for (unsigned char c : s)
    if (c == '/' || c == '\\' || c < 0x21 || c == 0x7f || c == '"') return false;
  return true;
}

Mailbox mailbox_for(const std::string& key) {
  auto at = key.rfind('@');
  return Mailbox{key, key.substr(at + 1), key.substr(0, at)};
}

}  // namespace

std::filesystem::path Mailbox::maildir(const std::filesystem::path& mail_dir) const {
  return mail_dir / domain / local_part / "Maildir";
}

RecipientDirectory::RecipientDirectory(const Config& config, const AccountSnapshot& accounts) {
  for (const auto& d : config.domains) domains_.insert(to_lower(d));
  for (const auto& d : accounts.domains) domains_.insert(to_lower(d));
  for (const auto& u : accounts.users) {
    auto addr = parse_mailbox(u);
    if (!addr || !domains_.contains(to_lower(addr->domain))) continue;  // its domain was removed
    Mailbox mb = mailbox_for(addr->lookup_key());
    if (safe_path_component(mb.local_part)) addresses_[mb.address] = mb;
  }
  first_domain_ = config.domains.empty() ? "" : to_lower(config.domains.front());
  for (const auto& u : config.users) {
    auto addr = parse_mailbox(u.address);
    if (!addr) throw ConfigError(fmt::format("{}: user \"{}\" is not a valid address", config.source, u.address));
    std::string key = addr->lookup_key();
    Mailbox mb = mailbox_for(key);
    if (!safe_path_component(mb.local_part))
      throw ConfigError(fmt::format("{}: user \"{}\": local part cannot be used as a mailbox directory",
                                    config.source, u.address));
    addresses_[key] = mb;
    for (const auto& a : u.aliases) {
      auto alias = parse_mailbox(a);
      if (!alias) throw ConfigError(fmt::format("{}: alias \"{}\" is not a valid address", config.source, a));
      if (!domains_.contains(to_lower(alias->domain)))
        throw ConfigError(fmt::format("{}: alias \"{}\": domain is not a configured [[domain]]", config.source, a));
      addresses_[alias->lookup_key()] = mb;
    }
  }
  for (const auto& [alias, target] : accounts.aliases) {
    auto t = parse_mailbox(target);
    if (!t) continue;
    auto it = addresses_.find(t->lookup_key());
    if (it == addresses_.end()) continue;  // an alias to nobody local is ignored
    if (alias.starts_with('@')) catch_all_[to_lower(alias.substr(1))] = it->second;
    else if (auto a = parse_mailbox(alias); a && domains_.contains(to_lower(a->domain)))
      addresses_[a->lookup_key()] = it->second;
  }
  // RFC 5321 §4.5.1: postmaster must exist in every domain we accept mail for.
  // Without an alias it is a mailbox of its own, so mail to it is never lost.
  for (const auto& d : domains_) {
    std::string key = "postmaster@" + d;
    if (!addresses_.contains(key)) addresses_[key] = mailbox_for(key);
  }
}

bool RecipientDirectory::is_local_domain(std::string_view domain) const {
  return domains_.contains(to_lower(domain));
}

std::optional<Mailbox> RecipientDirectory::resolve(const MailAddress& address) const {
  if (address.domain.empty()) {
    // Bare <postmaster> (RFC 5321 §4.1.1.3) means our postmaster.
    if (iequals(address.local_part, "postmaster") && !first_domain_.empty())
      return addresses_.at("postmaster@" + first_domain_);
    return std::nullopt;
  }
  auto it = addresses_.find(address.lookup_key());
  if (it != addresses_.end()) return it->second;
  auto all = catch_all_.find(to_lower(address.domain));
  if (all != catch_all_.end()) return all->second;
  return std::nullopt;
}

bool RecipientDirectory::owns(const std::string& user, const MailAddress& sender) const {
  if (sender.is_null() || sender.domain.empty()) return false;
  std::string key = sender.lookup_key();
  if (key == to_lower(user)) return true;
  auto it = addresses_.find(key);  // exact aliases only: a catch-all is not ownership
  if (it == addresses_.end()) return false;
  auto mine = addresses_.find(to_lower(user));
  return mine != addresses_.end() && mine->second.address == it->second.address;
}

}  // namespace tern
