// Inbound policy as the session sees it: a refused MAIL (rate limit,
// blocklisted client), rate-limited and greylisted recipients (451 4.7.1,
// not counted as client errors), and a message refused after its data
// (DMARC p=reject) without anything being committed.
#include <gtest/gtest.h>

#include "protocol/smtp/server_session.hpp"
#include "tests/unit/protocol/smtp/fake_services.hpp"

namespace tern::smtp::testing {
namespace {

struct PolicySession {
  FakeServices services;
  SessionSettings settings{"mx.example.test", {}};
  std::optional<ServerSession> session;
  PolicySession() {
    settings.limits.max_errors = 3;
    session.emplace(settings, services, "192.0.2.1");
    session->start();
    say("EHLO client.example\r\n");
  }
  std::string say(std::string_view line) {
    session->clear_output();
    session->feed(line);
    return session->output();
  }
};

TEST(SessionPolicy, RefusedMailGetsThePolicyReplyAndNoTransaction) {
  PolicySession p;
  p.services.refuse_mail = Reply{554, "5.7.1", "Service unavailable; client [192.0.2.1] blocked using bl.test"};
  EXPECT_EQ(p.say("MAIL FROM:<a@remote.test>\r\n"),
            "554 5.7.1 Service unavailable; client [192.0.2.1] blocked using bl.test\r\n");
  EXPECT_EQ(p.say("RCPT TO:<demo@example.test>\r\n"), "503 5.5.1 Error: need MAIL command\r\n");
  // Policy refusals are not client errors: many of them do not end the session.
  for (int i = 0; i < 5; ++i) p.say("MAIL FROM:<a@remote.test>\r\n");
  EXPECT_FALSE(p.session->closing());
  p.services.refuse_mail.reset();
  EXPECT_EQ(p.say("MAIL FROM:<a@remote.test>\r\n"), "250 2.1.0 Ok\r\n");
}

TEST(SessionPolicy, RateLimitedAndGreylistedRecipientsAre451) {
  PolicySession p;
  p.say("MAIL FROM:<a@remote.test>\r\n");
  p.services.policy_verdict = RecipientVerdict::rate_limited;
  EXPECT_EQ(p.say("RCPT TO:<demo@example.test>\r\n"),
            "451 4.7.1 Error: too many recipients from you lately, try again later\r\n");
  p.services.policy_verdict = RecipientVerdict::greylisted;
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(p.say("RCPT TO:<demo@example.test>\r\n"),
              "451 4.7.1 <demo@example.test>: Recipient address rejected: Greylisted, try again later\r\n");
  EXPECT_FALSE(p.session->closing());
}

TEST(SessionPolicy, MessageRefusedAfterDataIsAnsweredAndNotCommitted) {
  PolicySession p;
  p.say("MAIL FROM:<a@remote.test>\r\n");
  p.say("RCPT TO:<demo@example.test>\r\n");
  p.say("DATA\r\n");
  p.say("From: ceo@strict.test\r\n\r\nhi\r\n.\r\n");
  ASSERT_TRUE(p.session->awaiting_commit());
  p.session->clear_output();
  p.session->on_commit_refused(Reply{550, "5.7.1", "Message rejected: DMARC"});
  EXPECT_EQ(p.session->output(), "550 5.7.1 Message rejected: DMARC\r\n");
  EXPECT_TRUE(p.services.committed.empty());
  // The session goes on with a fresh transaction.
  EXPECT_EQ(p.say("RCPT TO:<demo@example.test>\r\n"), "503 5.5.1 Error: need MAIL command\r\n");
  EXPECT_EQ(p.say("MAIL FROM:<b@remote.test>\r\n"), "250 2.1.0 Ok\r\n");
}

}  // namespace
}  // namespace tern::smtp::testing
