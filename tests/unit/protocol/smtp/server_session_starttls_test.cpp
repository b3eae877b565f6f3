// STARTTLS in the server session (RFC 3207): offered only when TLS is
// available and not yet active, input pipelined after it is dropped
// (CVE-2011-0411), and the session starts over once TLS is up.
#include <gtest/gtest.h>

#include "protocol/smtp/server_session.hpp"
#include "tests/unit/protocol/smtp/fake_services.hpp"

namespace tern::smtp {
namespace {

struct StartTlsTest : ::testing::Test {
  StartTlsTest() {
    settings.hostname = "mx.example.test";
    settings.tls_available = true;
  }
  std::string say(ServerSession& s, std::string_view bytes) {
    s.feed(bytes);
    std::string out = s.output();
    s.clear_output();
    return out;
  }
  SessionSettings settings;
  testing::FakeServices services;
};

TEST_F(StartTlsTest, OfferedInEhloOnlyWhenAvailable) {
  ServerSession s(settings, services, "127.0.0.1");
  s.start();
  s.clear_output();
  EXPECT_NE(say(s, "EHLO c\r\n").find("STARTTLS\r\n"), std::string::npos);

  SessionSettings plain = settings;
  plain.tls_available = false;
  ServerSession p(plain, services, "127.0.0.1");
  p.start();
  p.clear_output();
  EXPECT_EQ(say(p, "EHLO c\r\n").find("STARTTLS"), std::string::npos);
  EXPECT_EQ(say(p, "STARTTLS\r\n").substr(0, 4), "502 ");
}

TEST_F(StartTlsTest, PipelinedCommandsAfterStartTlsAreDiscarded) {
  ServerSession s(settings, services, "127.0.0.1");
  s.start();
  s.clear_output();
  say(s, "EHLO c\r\n");
  std::string out = say(s, "STARTTLS\r\nRSET\r\nMAIL FROM:<x@remote.test>\r\n");
  EXPECT_EQ(out, "220 2.0.0 Ready to start TLS\r\n");
  EXPECT_TRUE(s.wants_tls());
  EXPECT_EQ(s.pending_input(), 0u);
  s.on_tls_started();
  EXPECT_TRUE(s.tls_active());
  // Starts over: MAIL needs a new EHLO, and STARTTLS is no longer offered.
  EXPECT_EQ(say(s, "MAIL FROM:<a@remote.test>\r\n").substr(0, 4), "503 ");
  std::string ehlo = say(s, "EHLO c\r\n");
  EXPECT_EQ(ehlo.find("STARTTLS"), std::string::npos);
  EXPECT_EQ(say(s, "STARTTLS\r\n").substr(0, 4), "503 ");
}

TEST_F(StartTlsTest, ArgumentsAndTransactionsRefused) {
  ServerSession s(settings, services, "127.0.0.1");
  s.start();
  s.clear_output();
  say(s, "EHLO c\r\n");
  EXPECT_EQ(say(s, "STARTTLS now\r\n").substr(0, 9), "501 5.5.4");
  say(s, "MAIL FROM:<a@remote.test>\r\n");
  EXPECT_EQ(say(s, "STARTTLS\r\n").substr(0, 9), "503 5.5.1");
}

TEST_F(StartTlsTest, ReceivedHeaderSaysEsmtps) {
  ServerSession s(settings, services, "127.0.0.1");
  s.start();
  s.clear_output();
  say(s, "EHLO c\r\nSTARTTLS\r\n");
  s.on_tls_started();
  say(s, "EHLO c\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<demo@example.test>\r\nDATA\r\n");
  say(s, "Subject: t\r\n\r\nhi\r\n.\r\n");
  ASSERT_TRUE(s.awaiting_commit());
  ASSERT_TRUE(services.open.has_value());
  EXPECT_NE(services.open->trace_header.find("with ESMTPS"), std::string::npos) << services.open->trace_header;
}

TEST_F(StartTlsTest, FailedHandshakeCloses) {
  ServerSession s(settings, services, "127.0.0.1");
  s.start();
  say(s, "EHLO c\r\nSTARTTLS\r\n");
  s.on_tls_failed();
  EXPECT_TRUE(s.closing());
}

}  // namespace
}  // namespace tern::smtp
