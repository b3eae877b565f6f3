// AUTH in the server session (RFC 4954) with PLAIN and LOGIN, exactly as the
// seed dialogues show: 334 VXNlcm5hbWU6, 334 UGFzc3dvcmQ6, 235 2.7.0; "*"
// cancels with 501, bad base64 is 501, refused credentials 535 5.7.8.
#include <gtest/gtest.h>

#include "protocol/smtp/sasl.hpp"
#include "protocol/smtp/server_session.hpp"
#include "tests/unit/protocol/smtp/fake_services.hpp"

namespace tern::smtp {
namespace {

struct AuthTest : ::testing::Test {
  AuthTest() {
    settings.hostname = "mx.example.test";
    settings.tls_available = true;
    settings.auth_available = true;
  }
  std::string say(ServerSession& s, std::string_view bytes) {
    s.feed(bytes);
    std::string out = s.output();
    s.clear_output();
    return out;
  }
  // A session over TLS, after EHLO.
  std::unique_ptr<ServerSession> ready() {
    auto s = std::make_unique<ServerSession>(settings, services, "127.0.0.1");
    s->start();
    say(*s, "EHLO c\r\nSTARTTLS\r\n");
    s->on_tls_started();
    say(*s, "EHLO c\r\n");
    return s;
  }
  SessionSettings settings;
  testing::FakeServices services;
};

TEST_F(AuthTest, OfferedOnlyOverTls) {
  ServerSession s(settings, services, "127.0.0.1");
  s.start();
  s.clear_output();
  std::string ehlo = say(s, "EHLO c\r\n");
  EXPECT_EQ(ehlo.find("AUTH"), std::string::npos);
  EXPECT_EQ(say(s, "AUTH PLAIN AGEAYg==\r\n").substr(0, 10), "538 5.7.11");
  auto t = ready();
  s.clear_output();
  EXPECT_NE(say(*t, "EHLO c\r\n").find("AUTH PLAIN LOGIN"), std::string::npos);
}

TEST_F(AuthTest, LoginExchangeOfTheSeed) {
  // The seed's user costa@amaxit.net / 1982214.
  auto s = ready();
  EXPECT_EQ(say(*s, "AUTH LOGIN\r\n"), "334 VXNlcm5hbWU6\r\n");
  EXPECT_EQ(say(*s, "Y29zdGFAYW1heGl0Lm5ldA==\r\n"), "334 UGFzc3dvcmQ6\r\n");
  EXPECT_TRUE(s->in_auth_exchange());
  EXPECT_EQ(say(*s, "MTk4MjIxNA==\r\n"), "");
  ASSERT_TRUE(s->wants_auth_check());
  EXPECT_EQ(s->credentials().username, "costa@amaxit.net");
  EXPECT_EQ(s->credentials().password, "1982214");
  s->on_auth_result(true);
  EXPECT_EQ(s->output(), "235 2.7.0 Authentication successful\r\n");
  EXPECT_EQ(s->authenticated_user(), "costa@amaxit.net");
  EXPECT_TRUE(s->credentials().password.empty());
  s->clear_output();
  EXPECT_EQ(say(*s, "AUTH LOGIN\r\n").substr(0, 9), "503 5.5.1");
}

TEST_F(AuthTest, PlainWithAndWithoutInitialResponse) {
  auto s = ready();
  // "\0demo@example.test\0secret"
  say(*s, "AUTH PLAIN AGRlbW9AZXhhbXBsZS50ZXN0AHNlY3JldA==\r\n");
  ASSERT_TRUE(s->wants_auth_check());
  EXPECT_EQ(s->credentials().username, "demo@example.test");
  s->on_auth_result(false);
  EXPECT_EQ(s->output(), "535 5.7.8 Authentication credentials invalid\r\n");
  s->clear_output();
  EXPECT_EQ(say(*s, "AUTH PLAIN\r\n"), "334 \r\n");
  say(*s, "AGRlbW9AZXhhbXBsZS50ZXN0AHNlY3JldA==\r\n");
  ASSERT_TRUE(s->wants_auth_check());
  EXPECT_EQ(s->credentials().password, "secret");
}

TEST_F(AuthTest, CancelBadBase64AndUnknownMechanism) {
  auto s = ready();
  say(*s, "AUTH LOGIN\r\n");
  EXPECT_EQ(say(*s, "*\r\n").substr(0, 9), "501 5.0.0");
  EXPECT_EQ(say(*s, "AUTH PLAIN !!!!\r\n").substr(0, 9), "501 5.5.2");
  EXPECT_EQ(say(*s, "AUTH CRAM-MD5\r\n").substr(0, 9), "504 5.5.4");
  // Back in command mode: an ordinary command works.
  EXPECT_EQ(say(*s, "NOOP\r\n").substr(0, 3), "250");
}

TEST_F(AuthTest, SubmissionGetsDateAndMessageIdWhenMissing) {
  auto s = ready();
  say(*s, "AUTH PLAIN AGRlbW9AZXhhbXBsZS50ZXN0AHNlY3JldA==\r\n");
  s->on_auth_result(true);
  s->clear_output();
  say(*s, "MAIL FROM:<demo@example.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n");
  say(*s, "Subject: no date\r\n\r\nbody\r\n.\r\n");
  ASSERT_TRUE(services.open.has_value());
  const std::string& body = services.open->body;
  auto blank = body.find("\r\n\r\n");
  ASSERT_NE(blank, std::string::npos);
  std::string headers = body.substr(0, blank + 2);
  EXPECT_NE(headers.find("\r\nDate: "), std::string::npos) << headers;
  EXPECT_NE(headers.find("\r\nMessage-ID: <"), std::string::npos) << headers;
  EXPECT_EQ(body.substr(blank), "\r\n\r\nbody\r\n");
}

TEST_F(AuthTest, PresentDateAndMessageIdAreKept) {
  auto s = ready();
  say(*s, "AUTH PLAIN AGRlbW9AZXhhbXBsZS50ZXN0AHNlY3JldA==\r\n");
  s->on_auth_result(true);
  s->clear_output();
  say(*s, "MAIL FROM:<demo@example.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n");
  say(*s, "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <a@b>\r\n\r\nbody\r\n.\r\n");
  ASSERT_TRUE(services.open.has_value());
  EXPECT_EQ(services.open->body, "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <a@b>\r\n\r\nbody\r\n");
}

TEST_F(AuthTest, FromHeaderMustBeOwned) {
  auto s = ready();
  say(*s, "AUTH PLAIN AGRlbW9AZXhhbXBsZS50ZXN0AHNlY3JldA==\r\n");
  s->on_auth_result(true);
  s->clear_output();
  say(*s, "MAIL FROM:<demo@example.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n");
  std::string out = say(*s, "From: \"The Boss\"\r\n <boss@example.test>\r\nSubject: x\r\n\r\nhi\r\n.\r\n");
  EXPECT_EQ(out.substr(0, 9), "553 5.7.1") << out;
  say(*s, "MAIL FROM:<demo@example.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n");
  say(*s, "From: Demo <demo@example.test>\r\nSubject: x\r\n\r\nhi\r\n.\r\n");
  EXPECT_TRUE(s->awaiting_commit());
}

TEST(Sasl, PlainDecoding) {
  EXPECT_EQ(decode_plain("*").error, SaslError::cancelled);
  EXPECT_EQ(decode_plain("not base64!").error, SaslError::bad_base64);
  EXPECT_EQ(decode_plain("AHNlY3JldA==").error, SaslError::malformed);  // "\0secret": one NUL
  auto r = decode_plain("YWRtaW4AZGVtbwBwdw==");  // "admin\0demo\0pw"
  ASSERT_TRUE(r.credentials);
  EXPECT_EQ(r.credentials->authzid, "admin");
  EXPECT_EQ(r.credentials->username, "demo");
  EXPECT_EQ(r.credentials->password, "pw");
}

}  // namespace
}  // namespace tern::smtp
