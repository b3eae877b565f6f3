// The daemon's configuration: read once at start (or reload) into an immutable
// struct and passed by reference. Loading validates every key and names the
// file, line and key of the first problem; nothing else in Tern parses TOML.
#pragma once
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "base/ip_network.hpp"

namespace tern {

// What incoming mail from unauthenticated, untrusted clients is judged by.
struct ChecksConfig {
  bool spf = true;                    // RFC 7208, MAIL FROM and HELO
  bool dkim = true;                   // RFC 6376 verification
  std::string dmarc = "enforce";      // enforce | monitor | off (RFC 7489)
  std::string authserv_id;            // Authentication-Results id; empty: hostname
  std::string public_suffix_list = "/usr/share/publicsuffix/public_suffix_list.dat";
  std::vector<std::string> dnsbl;     // IP blocklist zones (RFC 5782)
  std::vector<std::string> rhsbl;     // sender-domain blocklist zones
  std::string dnsbl_action = "reject";  // reject | mark
  bool greylisting = false;
  unsigned greylist_delay = 300;      // seconds before a retry is let through
  unsigned greet_pause = 0;           // seconds to wait for early talkers; 0: off
};

// Rates a peer may use; 0 means unlimited. Clients in trusted_networks and
// listeners with checks = false are exempt from the per-IP ones.
struct LimitsConfig {
  unsigned connections_per_ip = 20;       // open at once
  unsigned connection_rate_per_ip = 60;   // new connections per minute
  unsigned messages_per_ip = 120;         // messages per minute
  unsigned recipients_per_ip = 600;       // accepted recipients per minute
  unsigned messages_per_user = 500;       // authenticated senders, per hour
  unsigned recipients_per_user = 2000;    // authenticated senders, per hour
};

struct ListenerConfig {
  std::string protocol;  // smtp | submission (STARTTLS, AUTH required) | submissions (implicit TLS)
  std::string host;      // literal address, no brackets
  std::uint16_t port = 0;
  std::string address;   // as written, for logs
  // [checks] and the per-IP [limits] apply to this listener's unauthenticated
  // clients. Default: on for smtp, off for submission listeners (AUTH there).
  bool checks = true;
  // What applies on this listener: the global [checks] and [limits] with the
  // listener's own `checks = { ... }` / `limits = { ... }` over them.
  ChecksConfig checks_config;
  LimitsConfig limits_config;
};

struct UserConfig {
  std::string address;
  std::vector<std::string> aliases;
};

struct SmtpConfig {
  std::uint64_t max_message_size = 26214400;  // RFC 1870 SIZE, octets
  unsigned max_recipients = 100;              // RFC 5321 §4.5.3.1.8: at least 100
  unsigned max_connections = 1000;
  unsigned max_errors = 10;             // consecutive protocol errors before 421
  unsigned max_received_headers = 50;   // RFC 5321 §6.3 loop detection
  unsigned max_line_length = 1000;      // RFC 5321 §4.5.3.1.6, CRLF included
  unsigned command_timeout = 300;       // seconds; RFC 5321 §4.5.3.2.7
  unsigned data_timeout = 300;          // seconds per read during DATA
  unsigned shutdown_grace = 30;         // seconds a DATA transfer may finish on stop
  bool allow_plaintext_auth = false;    // AUTH before STARTTLS, for loopback clients only
  bool check_from_header = true;        // authenticated mail: From: addresses must be the user's
  bool hide_authenticated_client = false;  // Received: leaves out an authenticated client's IP (RFC 6409 §8)
  std::vector<IpNetwork> trusted_networks;
};

struct QueueConfig {
  unsigned retry_interval = 300;       // seconds before the first retry; doubles each time
  unsigned max_retry_interval = 3600;  // the back-off stops growing here
  unsigned max_lifetime = 432000;      // 5 days: then the sender gets a bounce
  unsigned delivery_workers = 4;       // concurrent local deliveries
};

struct DnsConfig {
  std::vector<std::string> servers;  // "IP:port"; empty: the system's resolv.conf
  unsigned timeout = 10;             // seconds per lookup
};

struct DeliveryConfig {
  std::uint16_t port = 25;            // remote SMTP port (tests point it elsewhere)
  unsigned connect_timeout = 30;      // seconds
  unsigned max_connections = 100;     // outbound connections in all
  unsigned max_per_destination = 20;  // outbound connections per domain (or relay host)
  unsigned idle_timeout = 5;          // seconds a connection waits for more mail before QUIT
  bool prefer_ipv6 = false;
  std::string tls = "opportunistic";  // opportunistic | none
};

struct RelayConfig {
  std::string host;  // empty: deliver by MX
  std::uint16_t port = 25;
  std::string tls = "starttls";  // starttls | implicit | none
  std::string username;
  std::string password_file;
  bool enabled() const { return !host.empty(); }
};

struct TlsConfig {
  std::string certificate;  // PEM chain; empty: a self-signed one in <data_dir>/tls/
  std::string key;          // PEM private key
};

struct Config {
  std::string source;  // file name, or "embedded defaults"
  std::string hostname;
  std::filesystem::path data_dir;
  std::string run_as_user;  // empty: do not drop privileges
  std::string log_level = "info";
  std::vector<ListenerConfig> listeners;
  std::vector<std::string> domains;  // lower-case
  std::vector<UserConfig> users;
  SmtpConfig smtp;
  ChecksConfig checks;
  LimitsConfig limits;
  QueueConfig queue;
  DnsConfig dns;
  DeliveryConfig delivery;
  RelayConfig relay;
  TlsConfig tls;

  std::filesystem::path queue_dir() const { return data_dir / "queue"; }
  std::filesystem::path mail_dir() const { return data_dir / "mail"; }
};

// A problem with the configuration: the message names file, line and key.
struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

Config load_config_file(const std::filesystem::path& file);
Config load_config_text(std::string_view text, std::string_view source_name);
// The embedded defaults: data in ./var, SMTP on 127.0.0.1:2525, domain
// example.test, user demo@example.test with postmaster@example.test as alias.
Config default_config();

}  // namespace tern
