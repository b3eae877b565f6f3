#include "base/config.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <initializer_list>
#include <set>
#include <toml++/toml.h>

#include "base/strings.hpp"

namespace tern {
namespace {

// Reads one TOML table, remembering which keys were consumed so that unknown
// (misspelt) keys are reported instead of silently ignored.
class TableReader {
 public:
  TableReader(const toml::table& table, std::string section, std::string_view file)
      : table_(table), section_(std::move(section)), file_(file) {}

  [[noreturn]] void fail(const toml::node* node, std::string_view key, std::string_view what) const {
    auto line = node ? node->source().begin.line : table_.source().begin.line;
    throw ConfigError(fmt::format("{}:{}: {}{}: {}", file_, line, section_.empty() ? "" : section_ + ".",
                                  key, what));
  }

  template <typename T>
  void integer(std::string_view key, T& out, long long min, long long max) {
    const toml::node* n = take(key);
    if (!n) return;
    auto v = n->value<long long>();
    if (!n->is_integer() || !v) fail(n, key, fmt::format("expected an integer, got {}", type_name(*n)));
    if (*v < min || *v > max) fail(n, key, fmt::format("expected a value from {} to {}, got {}", min, max, *v));
    out = static_cast<T>(*v);
  }

  void string(std::string_view key, std::string& out) {
    const toml::node* n = take(key);
    if (!n) return;
    if (!n->is_string()) fail(n, key, fmt::format("expected a string, got {}", type_name(*n)));
    out = *n->value<std::string>();
  }

  bool has(std::string_view key) const { return table_.contains(key); }

  void boolean(std::string_view key, bool& out) {
    const toml::node* n = take(key);
    if (!n) return;
    if (!n->is_boolean()) fail(n, key, fmt::format("expected true or false, got {}", type_name(*n)));
    out = *n->value<bool>();
  }

  void one_of(std::string_view key, std::string& out, std::initializer_list<std::string_view> allowed,
              std::string_view current) {
    out = std::string(current);
    string(key, out);
    for (auto a : allowed)
      if (out == a) return;
    std::string list;
    for (auto a : allowed) list += fmt::format("{}\"{}\"", list.empty() ? "" : ", ", a);
    fail(node(key), key, fmt::format("expected one of {}, got \"{}\"", list, out));
  }

  std::vector<std::string> string_list(std::string_view key) {
    std::vector<std::string> out;
    const toml::node* n = take(key);
    if (!n) return out;
    const toml::array* arr = n->as_array();
    if (!arr) fail(n, key, fmt::format("expected an array of strings, got {}", type_name(*n)));
    for (const toml::node& e : *arr) {
      if (!e.is_string()) fail(&e, key, fmt::format("expected an array of strings, found {}", type_name(e)));
      out.push_back(*e.value<std::string>());
    }
    return out;
  }

  const toml::node* node(std::string_view key) const { return table_.get(key); }

  // Every key of the table must have been read by now.
  void finish() const {
    for (auto&& [k, v] : table_) {
      if (!used_.contains(std::string(k.str()))) fail(&v, k.str(), "unknown key");
    }
  }

  const toml::node* take(std::string_view key) {
    used_.insert(std::string(key));
    return table_.get(key);
  }

 private:
  static std::string_view type_name(const toml::node& n) {
    switch (n.type()) {
      case toml::node_type::string: return "a string";
      case toml::node_type::integer: return "an integer";
      case toml::node_type::floating_point: return "a number";
      case toml::node_type::boolean: return "a boolean";
      case toml::node_type::array: return "an array";
      case toml::node_type::table: return "a table";
      default: return "a date/time";
    }
  }

  const toml::table& table_;
  std::string section_;
  std::string_view file_;
  std::set<std::string> used_;
};

void parse_address(TableReader& r, const toml::node* n, ListenerConfig& l, std::string_view key = "address") {
  // "127.0.0.1:2525" or "[::1]:2525"
  std::string_view a = l.address;
  std::string_view host, port;
  if (a.starts_with('[')) {
    auto close = a.find(']');
    if (close == std::string_view::npos || close + 1 >= a.size() || a[close + 1] != ':')
      r.fail(n, key, "expected \"[IPv6]:port\"");
    host = a.substr(1, close - 1);
    port = a.substr(close + 2);
  } else {
    auto colon = a.rfind(':');
    if (colon == std::string_view::npos) r.fail(n, key, "expected \"host:port\", e.g. \"127.0.0.1:2525\"");
    host = a.substr(0, colon);
    port = a.substr(colon + 1);
  }
  if (!IpAddress::parse(host)) r.fail(n, key, fmt::format("\"{}\" is not an IP address", host));
  unsigned p = 0;
  for (char c : port) {
    if (c < '0' || c > '9' || p > 65535) r.fail(n, key, "port must be a number from 1 to 65535");
    p = p * 10 + (c - '0');
  }
  if (p == 0 || p > 65535) r.fail(n, key, "port must be a number from 1 to 65535");
  l.host = std::string(host);
  l.port = static_cast<std::uint16_t>(p);
}

bool plausible_address(std::string_view a) {
  auto at = a.rfind('@');
  return at != std::string_view::npos && at > 0 && at + 1 < a.size() &&
         a.find_first_of(" \t\r\n<>") == std::string_view::npos;
}

std::string system_hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == 0) return "localhost";
  return buf;
}

// The keys of [checks], read over `k` (the defaults, or for a listener's
// `checks = { ... }` the global [checks]): only what is given changes.
// The Public Suffix List is loaded once, so its path is global only.
void read_checks(TableReader& r, ChecksConfig& k, bool global) {
  r.boolean("spf", k.spf);
  r.boolean("dkim", k.dkim);
  r.one_of("dmarc", k.dmarc, {"enforce", "monitor", "off"}, k.dmarc);
  r.string("authserv_id", k.authserv_id);
  if (k.authserv_id.find_first_of(" \t\r\n;()\"") != std::string::npos)
    r.fail(r.node("authserv_id"), "authserv_id", "expected a host name, without spaces, ';', '(' or quotes");
  if (global) r.string("public_suffix_list", k.public_suffix_list);
  if (r.has("dnsbl")) k.dnsbl = r.string_list("dnsbl");
  if (r.has("rhsbl")) k.rhsbl = r.string_list("rhsbl");
  for (const auto* list : {&k.dnsbl, &k.rhsbl})
    for (const auto& z : *list)
      if (z.empty() || z.find_first_of(" \t@/") != std::string::npos)
        r.fail(r.node(list == &k.dnsbl ? "dnsbl" : "rhsbl"), list == &k.dnsbl ? "dnsbl" : "rhsbl",
               fmt::format("\"{}\" is not a DNS zone name", z));
  r.one_of("dnsbl_action", k.dnsbl_action, {"reject", "mark"}, k.dnsbl_action);
  r.boolean("greylisting", k.greylisting);
  r.integer("greylist_delay", k.greylist_delay, 1, 86400);
  r.integer("greet_pause", k.greet_pause, 0, 60);
}

void read_limits(TableReader& r, LimitsConfig& l) {
  r.integer("connections_per_ip", l.connections_per_ip, 0, 1000000);
  r.integer("connection_rate_per_ip", l.connection_rate_per_ip, 0, 1000000);
  r.integer("messages_per_ip", l.messages_per_ip, 0, 1000000);
  r.integer("recipients_per_ip", l.recipients_per_ip, 0, 10000000);
  r.integer("messages_per_user", l.messages_per_user, 0, 1000000);
  r.integer("recipients_per_user", l.recipients_per_user, 0, 10000000);
}

Config from_table(const toml::table& root, std::string_view file) {
  Config c;
  c.source = std::string(file);
  c.hostname = system_hostname();
  c.data_dir = "./var";
  TableReader top(root, "", file);
  struct Overrides {
    const toml::node* checks = nullptr;
    const toml::node* limits = nullptr;
  };
  std::vector<Overrides> listener_overrides;  // one per listener, in order

  if (const toml::node* n = top.take("server")) {
    if (!n->is_table()) top.fail(n, "server", "expected a table [server]");
    TableReader r(*n->as_table(), "server", file);
    r.string("hostname", c.hostname);
    std::string dir;
    r.string("data_dir", dir);
    if (!dir.empty()) c.data_dir = dir;
    r.string("user", c.run_as_user);
    r.finish();
  }

  if (const toml::node* n = top.take("log")) {
    if (!n->is_table()) top.fail(n, "log", "expected a table [log]");
    TableReader r(*n->as_table(), "log", file);
    r.string("level", c.log_level);
    static const std::set<std::string> levels = {"trace", "debug", "info", "warn", "error"};
    if (!levels.contains(c.log_level))
      r.fail(r.node("level"), "level", "expected one of trace, debug, info, warn, error");
    r.finish();
  }

  auto each_table = [&](std::string_view key, auto&& fn) {
    const toml::node* n = top.take(key);
    if (!n) return;
    const toml::array* arr = n->as_array();
    if (!arr || !arr->is_array_of_tables())
      top.fail(n, key, fmt::format("expected an array of tables [[{}]]", key));
    for (const toml::node& e : *arr) {
      TableReader r(*e.as_table(), std::string(key), file);
      fn(r, e);
      r.finish();
    }
  };

  each_table("listener", [&](TableReader& r, const toml::node& e) {
    ListenerConfig l;
    r.string("protocol", l.protocol);
    r.string("address", l.address);
    if (l.protocol.empty()) r.fail(&e, "protocol", "missing (expected \"smtp\", \"submission\" or \"submissions\")");
    if (l.protocol != "smtp" && l.protocol != "submission" && l.protocol != "submissions")
      r.fail(r.node("protocol"), "protocol",
             fmt::format("\"{}\" is not supported yet (supported: smtp, submission, submissions)", l.protocol));
    if (l.address.empty()) r.fail(&e, "address", "missing (expected \"host:port\")");
    parse_address(r, r.node("address"), l);
    // checks = true | false | { overrides of [checks] }; limits = { overrides
    // of [limits] }. The tables are applied once the globals are known.
    l.checks = l.protocol == "smtp";
    const toml::node* checks_node = r.node("checks");
    if (checks_node && checks_node->is_table()) {
      r.take("checks");
      l.checks = true;
    } else {
      r.boolean("checks", l.checks);
      checks_node = nullptr;
    }
    const toml::node* limits_node = r.take("limits");
    if (limits_node && !limits_node->is_table())
      r.fail(limits_node, "limits", "expected a table of [limits] keys, e.g. { messages_per_ip = 30 }");
    listener_overrides.push_back({checks_node, limits_node});
    c.listeners.push_back(std::move(l));
  });

  each_table("domain", [&](TableReader& r, const toml::node& e) {
    std::string name;
    r.string("name", name);
    if (name.empty() || name.find_first_of("@ \t<>") != std::string::npos)
      r.fail(r.node("name") ? r.node("name") : &e, "name", "expected a domain name such as \"example.test\"");
    c.domains.push_back(to_lower(name));
  });

  each_table("user", [&](TableReader& r, const toml::node& e) {
    UserConfig u;
    r.string("address", u.address);
    if (!plausible_address(u.address))
      r.fail(r.node("address") ? r.node("address") : &e, "address", "expected an address such as \"alice@example.test\"");
    {
      auto domain = to_lower(u.address.substr(u.address.rfind('@') + 1));
      if (std::find(c.domains.begin(), c.domains.end(), domain) == c.domains.end())
        r.fail(r.node("address"), "address", fmt::format("domain \"{}\" is not a configured [[domain]]", domain));
    }
    u.aliases = r.string_list("aliases");
    for (auto& a : u.aliases)
      if (!plausible_address(a)) r.fail(r.node("aliases"), "aliases", fmt::format("\"{}\" is not an address", a));
    c.users.push_back(std::move(u));
  });

  if (const toml::node* n = top.take("smtp")) {
    if (!n->is_table()) top.fail(n, "smtp", "expected a table [smtp]");
    TableReader r(*n->as_table(), "smtp", file);
    auto& s = c.smtp;
    r.integer("max_message_size", s.max_message_size, 1024, 1LL << 40);
    r.integer("max_recipients", s.max_recipients, 1, 100000);
    r.integer("max_connections", s.max_connections, 1, 1000000);
    r.integer("max_errors", s.max_errors, 1, 1000);
    r.integer("max_received_headers", s.max_received_headers, 1, 1000);
    r.integer("max_line_length", s.max_line_length, 1000, 1 << 20);
    r.integer("command_timeout", s.command_timeout, 1, 86400);
    r.integer("data_timeout", s.data_timeout, 1, 86400);
    r.integer("shutdown_grace", s.shutdown_grace, 0, 3600);
    if (const toml::node* b = r.take("allow_plaintext_auth")) {
      if (!b->is_boolean()) r.fail(b, "allow_plaintext_auth", "expected true or false");
      s.allow_plaintext_auth = *b->value<bool>();
    }
    if (const toml::node* b = r.take("check_from_header")) {
      if (!b->is_boolean()) r.fail(b, "check_from_header", "expected true or false");
      s.check_from_header = *b->value<bool>();
    }
    if (const toml::node* b = r.take("hide_authenticated_client")) {
      if (!b->is_boolean()) r.fail(b, "hide_authenticated_client", "expected true or false");
      s.hide_authenticated_client = *b->value<bool>();
    }
    if (r.has("trusted_networks")) {
      s.trusted_networks.clear();
      for (auto& text : r.string_list("trusted_networks")) {
        auto net = IpNetwork::parse(text);
        if (!net) r.fail(r.node("trusted_networks"), "trusted_networks",
                         fmt::format("\"{}\" is not a network such as \"127.0.0.0/8\"", text));
        s.trusted_networks.push_back(*net);
      }
    }
    r.finish();
  }

  if (const toml::node* n = top.take("queue")) {
    if (!n->is_table()) top.fail(n, "queue", "expected a table [queue]");
    TableReader r(*n->as_table(), "queue", file);
    r.integer("retry_interval", c.queue.retry_interval, 1, 86400);
    r.integer("max_retry_interval", c.queue.max_retry_interval, 1, 7 * 86400);
    r.integer("max_lifetime", c.queue.max_lifetime, 1, 30 * 86400);
    r.integer("delivery_workers", c.queue.delivery_workers, 1, 256);
    r.finish();
  }

  if (const toml::node* n = top.take("checks")) {
    if (!n->is_table()) top.fail(n, "checks", "expected a table [checks]");
    TableReader r(*n->as_table(), "checks", file);
    read_checks(r, c.checks, /*global=*/true);
    r.finish();
  }

  if (const toml::node* n = top.take("limits")) {
    if (!n->is_table()) top.fail(n, "limits", "expected a table [limits]");
    TableReader r(*n->as_table(), "limits", file);
    read_limits(r, c.limits);
    r.finish();
  }

  if (const toml::node* n = top.take("dns")) {
    if (!n->is_table()) top.fail(n, "dns", "expected a table [dns]");
    TableReader r(*n->as_table(), "dns", file);
    c.dns.servers = r.string_list("servers");
    for (const auto& s : c.dns.servers) {
      ListenerConfig probe;
      probe.address = s;
      parse_address(r, r.node("servers"), probe, "servers");  // same "IP:port" / "[IPv6]:port" syntax
    }
    r.integer("timeout", c.dns.timeout, 1, 300);
    r.finish();
  }

  if (const toml::node* n = top.take("delivery")) {
    if (!n->is_table()) top.fail(n, "delivery", "expected a table [delivery]");
    TableReader r(*n->as_table(), "delivery", file);
    auto& d = c.delivery;
    r.integer("port", d.port, 1, 65535);
    r.integer("connect_timeout", d.connect_timeout, 1, 3600);
    r.integer("max_connections", d.max_connections, 1, 100000);
    r.integer("max_per_destination", d.max_per_destination, 1, 10000);
    r.integer("idle_timeout", d.idle_timeout, 0, 3600);
    if (const toml::node* b = r.take("prefer_ipv6")) {
      if (!b->is_boolean()) r.fail(b, "prefer_ipv6", "expected true or false");
      d.prefer_ipv6 = *b->value<bool>();
    }
    r.string("tls", d.tls);
    if (d.tls != "opportunistic" && d.tls != "none")
      r.fail(r.node("tls"), "tls", "expected \"opportunistic\" or \"none\"");
    r.finish();
  }

  if (const toml::node* n = top.take("tls")) {
    if (!n->is_table()) top.fail(n, "tls", "expected a table [tls]");
    TableReader r(*n->as_table(), "tls", file);
    r.string("certificate", c.tls.certificate);
    r.string("key", c.tls.key);
    if (c.tls.certificate.empty() != c.tls.key.empty())
      r.fail(n, c.tls.key.empty() ? "key" : "certificate", "certificate and key go together: set both or neither");
    r.finish();
  }

  if (const toml::node* n = top.take("relay")) {
    if (!n->is_table()) top.fail(n, "relay", "expected a table [relay]");
    TableReader r(*n->as_table(), "relay", file);
    auto& rl = c.relay;
    r.string("host", rl.host);
    if (rl.host.empty()) r.fail(n, "host", "missing (expected \"host:port\", e.g. \"smtp.example.net:587\")");
    {
      // host:port where host may be a name or an address.
      auto colon = rl.host.rfind(':');
      bool bracketed = rl.host.starts_with('[');
      if (colon == std::string::npos || (bracketed && rl.host[colon - 1] != ']'))
        r.fail(r.node("host"), "host", "expected \"host:port\", e.g. \"smtp.example.net:587\"");
      unsigned port = 0;
      auto digits = std::string_view(rl.host).substr(colon + 1);
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
      if (ec != std::errc{} || end != digits.data() + digits.size() || port == 0 || port > 65535)
        r.fail(r.node("host"), "host", "port must be a number from 1 to 65535");
      rl.port = static_cast<std::uint16_t>(port);
      rl.host = rl.host.substr(bracketed ? 1 : 0, bracketed ? colon - 2 : colon);
    }
    r.string("tls", rl.tls);
    if (rl.tls != "starttls" && rl.tls != "implicit" && rl.tls != "none")
      r.fail(r.node("tls"), "tls", "expected \"starttls\", \"implicit\" or \"none\"");
    if (const toml::node* a = r.take("auth")) {
      if (!a->is_table()) r.fail(a, "auth", "expected { username = \"...\", password_file = \"...\" }");
      TableReader ar(*a->as_table(), "relay.auth", file);
      ar.string("username", rl.username);
      ar.string("password_file", rl.password_file);
      if (rl.username.empty() || rl.password_file.empty())
        ar.fail(a, "auth", "needs both username and password_file (the password is never written in the config)");
      ar.finish();
    }
    r.finish();
  }

  top.finish();

  for (std::size_t i = 0; i < c.listeners.size(); ++i) {
    auto& l = c.listeners[i];
    l.checks_config = c.checks;
    l.limits_config = c.limits;
    if (const toml::node* n = listener_overrides[i].checks) {
      TableReader r(*n->as_table(), "listener.checks", file);
      read_checks(r, l.checks_config, /*global=*/false);
      r.finish();
    }
    if (const toml::node* n = listener_overrides[i].limits) {
      TableReader r(*n->as_table(), "listener.limits", file);
      read_limits(r, l.limits_config);
      r.finish();
    }
  }

  if (c.listeners.empty()) throw ConfigError(fmt::format("{}: no [[listener]] configured", file));
  if (c.domains.empty()) throw ConfigError(fmt::format("{}: no [[domain]] configured", file));
  for (const auto& u : c.users) {
    for (const auto* a : {&u.address}) {
      auto domain = to_lower(a->substr(a->rfind('@') + 1));
      if (std::find(c.domains.begin(), c.domains.end(), domain) == c.domains.end())
        throw ConfigError(fmt::format("{}: user {}: domain \"{}\" is not a configured [[domain]]", file, *a, domain));
    }
  }
  return c;
}

}  // namespace

Config load_config_text(std::string_view text, std::string_view source_name) {
  try {
    toml::table root = toml::parse(text, source_name);
    return from_table(root, source_name);
  } catch (const toml::parse_error& e) {
    throw ConfigError(fmt::format("{}:{}: {}", source_name, e.source().begin.line, e.description()));
  }
}

Config load_config_file(const std::filesystem::path& file) {
  std::FILE* f = std::fopen(file.c_str(), "rb");
  if (!f) throw ConfigError(fmt::format("{}: cannot open: {}", file.string(), std::strerror(errno)));
  std::string text;
  char buf[8192];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  std::fclose(f);
  return load_config_text(text, file.string());
}

}  // namespace tern
