// Config loading: a good file becomes the struct; every mistake is one
// ConfigError naming the file, the line and the key (issue 2: "one clear
// error naming file, line, key and what was expected").
#include "base/config.hpp"

#include <gtest/gtest.h>

#include "tests/unit/support/temp_dir.hpp"

namespace tern {
namespace {

constexpr std::string_view good = R"(# a comment
[server]
hostname = "mx.example.test"
data_dir = "/var/lib/tern"
user = "tern"

[log]
level = "debug"

[[listener]]
protocol = "smtp"
address  = "127.0.0.1:2525"

[[listener]]
protocol = "smtp"
address  = "[::1]:2526"

[[domain]]
name = "Example.TEST"

[[domain]]
name = "other.test"

[[user]]
address = "alice@example.test"
aliases = ["postmaster@example.test", "al@other.test"]

[[user]]
address = "bob@other.test"

[smtp]
max_message_size = 1048576
max_recipients   = 50
max_connections  = 10
max_errors = 5
max_received_headers = 30
max_line_length = 2000
command_timeout = 60
data_timeout = 120
shutdown_grace = 5
trusted_networks = ["10.0.0.0/8", "::1"]

[queue]
retry_interval = 60
delivery_workers = 2
)";

// The message of the ConfigError that loading `text` throws.
std::string error_of(std::string_view text, std::string_view name = "tern.toml") {
  try {
    load_config_text(text, name);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

// A minimal valid file with `extra` appended.
std::string minimal(std::string_view extra = "") {
  return std::string(R"([[listener]]
protocol = "smtp"
address = "127.0.0.1:2525"
[[domain]]
name = "example.test"
)") + std::string(extra);
}

TEST(Config, GoodFileLoadsEveryKey) {
  Config c = load_config_text(good, "tern.toml");
  EXPECT_EQ(c.source, "tern.toml");
  EXPECT_EQ(c.hostname, "mx.example.test");
  EXPECT_EQ(c.data_dir, "/var/lib/tern");
  EXPECT_EQ(c.queue_dir(), "/var/lib/tern/queue");
  EXPECT_EQ(c.mail_dir(), "/var/lib/tern/mail");
  EXPECT_EQ(c.run_as_user, "tern");
  EXPECT_EQ(c.log_level, "debug");
  ASSERT_EQ(c.listeners.size(), 2u);
  EXPECT_EQ(c.listeners[0].protocol, "smtp");
  EXPECT_EQ(c.listeners[0].host, "127.0.0.1");
  EXPECT_EQ(c.listeners[0].port, 2525);
  EXPECT_EQ(c.listeners[1].host, "::1");
  EXPECT_EQ(c.listeners[1].port, 2526);
  EXPECT_EQ(c.listeners[1].address, "[::1]:2526");
  EXPECT_EQ(c.domains, (std::vector<std::string>{"example.test", "other.test"}));  // lower-cased
  ASSERT_EQ(c.users.size(), 2u);
  EXPECT_EQ(c.users[0].address, "alice@example.test");
  EXPECT_EQ(c.users[0].aliases, (std::vector<std::string>{"postmaster@example.test", "al@other.test"}));
  EXPECT_TRUE(c.users[1].aliases.empty());
  EXPECT_EQ(c.smtp.max_message_size, 1048576u);
  EXPECT_EQ(c.smtp.max_recipients, 50u);
  EXPECT_EQ(c.smtp.max_connections, 10u);
  EXPECT_EQ(c.smtp.max_errors, 5u);
  EXPECT_EQ(c.smtp.max_received_headers, 30u);
  EXPECT_EQ(c.smtp.max_line_length, 2000u);
  EXPECT_EQ(c.smtp.command_timeout, 60u);
  EXPECT_EQ(c.smtp.data_timeout, 120u);
  EXPECT_EQ(c.smtp.shutdown_grace, 5u);
  ASSERT_EQ(c.smtp.trusted_networks.size(), 2u);
  EXPECT_TRUE(c.smtp.trusted_networks[0].contains(*IpAddress::parse("10.1.2.3")));
  EXPECT_TRUE(c.smtp.trusted_networks[1].contains(*IpAddress::parse("::1")));
  EXPECT_EQ(c.queue.retry_interval, 60u);
  EXPECT_EQ(c.queue.delivery_workers, 2u);
}

TEST(Config, MinimalFileTakesDefaults) {
  Config c = load_config_text(minimal(), "min.toml");
  EXPECT_EQ(c.data_dir, "./var");
  EXPECT_FALSE(c.hostname.empty());  // the system's host name
  EXPECT_EQ(c.smtp.max_message_size, 26214400u);
  EXPECT_EQ(c.smtp.max_recipients, 100u);
  EXPECT_EQ(c.smtp.max_line_length, 1000u);
  EXPECT_TRUE(c.users.empty());
  EXPECT_EQ(c.log_level, "info");
}

TEST(Config, WrongTypeNamesFileLineAndKey) {
  EXPECT_EQ(error_of(minimal("[smtp]\nmax_recipients = \"many\"\n")),
            "tern.toml:7: smtp.max_recipients: expected an integer, got a string");
  EXPECT_EQ(error_of(minimal("[server]\nhostname = 42\n")), "tern.toml:7: server.hostname: expected a string, got an integer");
  EXPECT_EQ(error_of(minimal("[[user]]\naddress = \"a@example.test\"\naliases = \"b@example.test\"\n")),
            "tern.toml:8: user.aliases: expected an array of strings, got a string");
  EXPECT_EQ(error_of("server = 1\n" + minimal()), "tern.toml:1: server: expected a table [server]");
}

TEST(Config, OutOfRangeValue) {
  EXPECT_EQ(error_of(minimal("[smtp]\nmax_recipients = 0\n")),
            "tern.toml:7: smtp.max_recipients: expected a value from 1 to 100000, got 0");
  // RFC 5321 §4.5.3.1.6: the text line limit cannot go below 1000.
  EXPECT_NE(error_of(minimal("[smtp]\nmax_line_length = 999\n")).find("smtp.max_line_length"), std::string::npos);
}

TEST(Config, UnknownKeyIsAnError) {
  EXPECT_EQ(error_of(minimal("[smtp]\nmax_recipient = 5\n")), "tern.toml:7: smtp.max_recipient: unknown key");
  EXPECT_EQ(error_of(minimal("\n\n[frobnicate]\nx = 1\n")), "tern.toml:8: frobnicate: unknown key");
  EXPECT_EQ(error_of(minimal("[[listener]]\nprotocol = \"smtp\"\naddress = \"127.0.0.1:25\"\nport = 25\n")),
            "tern.toml:9: listener.port: unknown key");
}

TEST(Config, BadListenerAddress) {
  auto with_address = [](std::string a) {
    return std::string("\n[[listener]]\nprotocol = \"smtp\"\naddress = \"") + a + "\"\n[[domain]]\nname = \"example.test\"\n";
  };
  EXPECT_EQ(error_of(with_address("localhost")),
            "tern.toml:4: listener.address: expected \"host:port\", e.g. \"127.0.0.1:2525\"");
  EXPECT_EQ(error_of(with_address("mail.example:25")),
            "tern.toml:4: listener.address: \"mail.example\" is not an IP address");
  EXPECT_EQ(error_of(with_address("127.0.0.1:0")), "tern.toml:4: listener.address: port must be a number from 1 to 65535");
  EXPECT_EQ(error_of(with_address("127.0.0.1:65536")),
            "tern.toml:4: listener.address: port must be a number from 1 to 65535");
  EXPECT_EQ(error_of(with_address("127.0.0.1:2x")), "tern.toml:4: listener.address: port must be a number from 1 to 65535");
  EXPECT_EQ(error_of(with_address("[::1]25")), "tern.toml:4: listener.address: expected \"[IPv6]:port\"");
  EXPECT_EQ(error_of(with_address("[::1]:99999999999")),
            "tern.toml:4: listener.address: port must be a number from 1 to 65535");
}

TEST(Config, BadListenerProtocol) {
  EXPECT_EQ(error_of("[[listener]]\nprotocol = \"imap\"\naddress = \"127.0.0.1:143\"\n"),
            "tern.toml:2: listener.protocol: \"imap\" is not supported yet (supported: smtp, submission, submissions)");
  EXPECT_EQ(error_of("[[listener]]\naddress = \"127.0.0.1:25\"\n"), "tern.toml:1: listener.protocol: missing (expected \"smtp\", \"submission\" or \"submissions\")");
}

TEST(Config, BadUserAddress) {
  EXPECT_EQ(error_of(minimal("[[user]]\naddress = \"alice\"\n")),
            "tern.toml:7: user.address: expected an address such as \"alice@example.test\"");
  EXPECT_EQ(error_of(minimal("[[user]]\naddress = \"alice@example.test\"\naliases = [\"bob\"]\n")),
            "tern.toml:8: user.aliases: \"bob\" is not an address");
}

// Issue 2: every config error names file, line and key. A user in a domain
// that is not configured is such an error, and its line is known.
TEST(Config, UserInUnconfiguredDomainNamesLineAndKey) {
  std::string e = error_of(minimal("[[user]]\naddress = \"alice@elsewhere.test\"\n"));
  EXPECT_TRUE(e.starts_with("tern.toml:7: user.address: ")) << e;
  EXPECT_NE(e.find("elsewhere.test"), std::string::npos) << e;
}

TEST(Config, MissingListenerOrDomain) {
  EXPECT_EQ(error_of("[[domain]]\nname = \"example.test\"\n", "/etc/tern.toml"),
            "/etc/tern.toml: no [[listener]] configured");
  EXPECT_EQ(error_of("[[listener]]\nprotocol = \"smtp\"\naddress = \"127.0.0.1:25\"\n"),
            "tern.toml: no [[domain]] configured");
}

TEST(Config, BadTrustedNetworkAndLogLevel) {
  EXPECT_EQ(error_of(minimal("[smtp]\ntrusted_networks = [\"10.0.0.0/33\"]\n")),
            "tern.toml:7: smtp.trusted_networks: \"10.0.0.0/33\" is not a network such as \"127.0.0.0/8\"");
  EXPECT_EQ(error_of(minimal("[log]\nlevel = \"loud\"\n")),
            "tern.toml:7: log.level: expected one of trace, debug, info, warn, error");
}

TEST(Config, TomlSyntaxErrorNamesTheLine) {
  std::string e = error_of(minimal("[smtp\nmax_recipients = 5\n"));
  EXPECT_TRUE(e.starts_with("tern.toml:6: ")) << e;
}

TEST(Config, LoadFileUsesItsName) {
  testing::TempDir dir;
  auto path = dir / "tern.toml";
  testing::write_file(path, minimal("[smtp]\nmax_recipients = \"x\"\n"));
  try {
    load_config_file(path);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), path.string() + ":7: smtp.max_recipients: expected an integer, got a string");
  }
  testing::write_file(path, minimal());
  EXPECT_EQ(load_config_file(path).source, path.string());
  EXPECT_THROW(load_config_file(dir / "missing.toml"), ConfigError);
}

TEST(Config, DefaultConfigHasTheDemoSetup) {
  Config c = default_config();
  EXPECT_EQ(c.source, "embedded defaults");
  EXPECT_EQ(c.data_dir, "./var");
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_EQ(c.listeners[0].protocol, "smtp");
  EXPECT_EQ(c.listeners[0].host, "127.0.0.1");
  EXPECT_EQ(c.listeners[0].port, 2525);
  EXPECT_EQ(c.domains, std::vector<std::string>{"example.test"});
  ASSERT_EQ(c.users.size(), 1u);
  EXPECT_EQ(c.users[0].address, "demo@example.test");
  EXPECT_EQ(c.users[0].aliases, std::vector<std::string>{"postmaster@example.test"});
  EXPECT_EQ(c.smtp.max_message_size, 26214400u);
  EXPECT_EQ(c.smtp.max_recipients, 100u);
  EXPECT_EQ(c.smtp.max_connections, 1000u);
}

}  // namespace
}  // namespace tern

namespace tern {
namespace {

constexpr std::string_view per_listener = R"([[listener]]
protocol = "smtp"
address = "127.0.0.1:25"
checks = { greet_pause = 3, dnsbl = ["bl.example"] }
limits = { messages_per_ip = 10 }

[[listener]]
protocol = "smtp"
address = "127.0.0.1:2526"
checks = false

[[listener]]
protocol = "submission"
address = "127.0.0.1:587"

[[domain]]
name = "example.test"

[checks]
dmarc = "monitor"
greet_pause = 1

[limits]
messages_per_ip = 50
messages_per_user = 100
)";

// [checks] and [limits] are global; a listener's tables override them key by key.
TEST(ConfigChecks, ListenerOverridesApplyOverTheGlobals) {
  Config c = load_config_text(per_listener, "tern.toml");
  ASSERT_EQ(c.listeners.size(), 3u);
  const auto& mx = c.listeners[0];
  EXPECT_TRUE(mx.checks);
  EXPECT_EQ(mx.checks_config.greet_pause, 3u);
  EXPECT_EQ(mx.checks_config.dnsbl, std::vector<std::string>{"bl.example"});
  EXPECT_EQ(mx.checks_config.dmarc, "monitor");  // from [checks]
  EXPECT_EQ(mx.limits_config.messages_per_ip, 10u);
  EXPECT_EQ(mx.limits_config.messages_per_user, 100u);  // from [limits]
  EXPECT_FALSE(c.listeners[1].checks);
  EXPECT_EQ(c.listeners[1].checks_config.greet_pause, 1u);
  EXPECT_FALSE(c.listeners[2].checks);  // submission: off unless asked
  EXPECT_EQ(c.checks.greet_pause, 1u);
}

TEST(ConfigChecks, BadValuesNameTheirKey) {
  auto with = [](std::string_view listener_extra, std::string_view tail = "") {
    return std::string("[[listener]]\nprotocol = \"smtp\"\naddress = \"127.0.0.1:25\"\n") +
           std::string(listener_extra) + "\n[[domain]]\nname = \"example.test\"\n" + std::string(tail);
  };
  auto error_text = [](const std::string& text) {
    try {
      load_config_text(text, "t.toml");
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_NE(error_text(with("checks = { dmarc = \"maybe\" }")).find("dmarc"), std::string::npos);
  EXPECT_NE(error_text(with("checks = { public_suffix_list = \"x\" }")).find("unknown key"), std::string::npos);
  EXPECT_NE(error_text(with("limits = 5")).find("limits"), std::string::npos);
  EXPECT_NE(error_text(with("", "[checks]\ndnsbl_action = \"score\"\n")).find("dnsbl_action"), std::string::npos);
  EXPECT_NE(error_text(with("", "[limits]\nmessages_per_ip = -1\n")).find("messages_per_ip"), std::string::npos);
}

}  // namespace
}  // namespace tern
