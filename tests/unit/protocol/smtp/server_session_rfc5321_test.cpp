// RFC 5321 Appendix D scenarios, adapted: our server plays the receiving side
// with its own reply texts, FakeServices holds the users of "foo.com" (or
// "xyz.com"), and every other domain is someone else's (554 5.7.1: no relay).
#include <gtest/gtest.h>

#include "tests/unit/protocol/smtp/transcript.hpp"

namespace tern::smtp::testing {
namespace {

SessionOptions host(std::string name) {
  SessionOptions o;
  o.hostname = std::move(name);
  return o;
}

// D.1 A Typical SMTP Transaction Scenario. The client's "...etc. etc. etc."
// line starts with a dot, so on the wire it is dot-stuffed (RFC 5321 §4.5.2).
TEST(SessionRfc5321AppendixD, D1TypicalTransaction) {
  FakeServices services{"jones@foo.com", "brown@foo.com"};
  auto run = expect_transcript(R"(
    S: 220 foo.com ESMTP
    C: EHLO bar.com
    S: 250-foo.com Hello bar.com
    S: 250-PIPELINING
    S: 250-SIZE
    S: 250-8BITMIME
    S: 250-SMTPUTF8
    S: 250-ENHANCEDSTATUSCODES
    S: 250 HELP
    C: MAIL FROM:<Smith@bar.com>
    S: 250 2.1.0 Ok
    C: RCPT TO:<Jones@foo.com>
    S: 250 2.1.5 Ok
    C: RCPT TO:<Green@foo.com>
    S: 550 5.1.1 <Green@foo.com>: Recipient address rejected: User unknown
    C: RCPT TO:<Brown@foo.com>
    S: 250 2.1.5 Ok
    C: DATA
    S: 354
    C: Blah blah blah...
    C: ....etc. etc. etc.
    C: .
    S: 250 2.0.0 Ok: queued as
    C: QUIT
    S: 221 2.0.0 foo.com Bye
  )", services, host("foo.com"));
  ASSERT_EQ(run.services.committed.size(), 1u);
  const auto& m = run.services.committed[0];
  EXPECT_EQ(m.body, "Blah blah blah...\r\n...etc. etc. etc.\r\n");
  ASSERT_EQ(m.envelope.recipients.size(), 2u);  // Green was refused and is not in the envelope
  EXPECT_EQ(m.envelope.recipients[0].to_string(), "Jones@foo.com");
  EXPECT_EQ(m.envelope.recipients[1].to_string(), "Brown@foo.com");
  // Two recipients: the Received: header names none (RFC 5321 §4.4 "for" is optional).
  EXPECT_EQ(m.trace_header.find("for <"), std::string::npos);
}

// D.2 Aborted SMTP Transaction Scenario: RSET drops the transaction.
TEST(SessionRfc5321AppendixD, D2AbortedTransaction) {
  FakeServices services{"jones@foo.com"};
  auto run = expect_transcript(R"(
    S: 220 foo.com
    C: EHLO bar.com
    S: @ehlo
    C: MAIL FROM:<Smith@bar.com>
    S: 250 2.1.0
    C: RCPT TO:<Jones@foo.com>
    S: 250 2.1.5
    C: RCPT TO:<Green@foo.com>
    S: 550 5.1.1
    C: RSET
    S: 250 2.0.0 Ok
    C: DATA
    S: 503 5.5.1 Error: need MAIL command
    C: QUIT
    S: 221 2.0.0
  )", services, host("foo.com"));
  EXPECT_TRUE(run.services.committed.empty());
  EXPECT_EQ(run.services.discards, 0);  // no message was ever opened
}

// D.3 Relayed Mail Scenario, step 1: the client asks foo.com to relay to
// XYZ.COM through a source route. The route is ignored (RFC 5321 Appendix C)
// and XYZ.COM is not ours, so the relay is refused; DATA then has no
// recipient (RFC 2920 §3.1: 554).
TEST(SessionRfc5321AppendixD, D3Step1RelayIsDenied) {
  FakeServices services{"jones@foo.com"};
  auto run = expect_transcript(R"(
    S: 220 foo.com
    C: EHLO bar.com
    S: @ehlo
    C: MAIL FROM:<JQP@bar.com>
    S: 250 2.1.0
    C: RCPT TO:<@foo.com:Jones@XYZ.COM>
    S: 554 5.7.1 <Jones@XYZ.COM>: Relay access denied
    C: DATA
    S: 554 5.5.1 Error: no valid recipients
    C: QUIT
    S: 221 2.0.0
  )", services, host("foo.com"));
  ASSERT_EQ(run.services.journal.size(), 1u);
  EXPECT_EQ(run.services.journal[0], "check Jones@XYZ.COM");  // the route is gone
}

// D.3 step 2: the relay delivers to the destination, which is us. The domain
// matches case-insensitively, the sender's source route is ignored, and the
// relay's own Received: header is carried as data.
TEST(SessionRfc5321AppendixD, D3Step2RelayToDestination) {
  FakeServices services{"jones@xyz.com"};
  auto run = expect_transcript(R"(
    S: 220 xyz.com
    C: EHLO foo.com
    S: @ehlo
    C: MAIL FROM:<@foo.com:JQP@bar.com>
    S: 250 2.1.0
    C: RCPT TO:<Jones@XYZ.COM>
    S: 250 2.1.5
    C: DATA
    S: 354
    C: Received: from bar.com by foo.com ; Thu, 21 May 1998
    C:     05:33:29 -0700
    C: Date: Thu, 21 May 1998 05:33:29 -0700
    C: From: John Q. Public <JQP@bar.com>
    C: Subject:  The Next Meeting of the Board
    C: To: Jones@xyz.com
    C:
    C: Bill:
    C: The next meeting of the board of directors will be
    C: on Tuesday.
    C:                                             John.
    C: .
    S: 250 2.0.0 Ok: queued as
    C: QUIT
    S: 221 2.0.0 xyz.com Bye
  )", services, host("xyz.com"));
  ASSERT_EQ(run.services.committed.size(), 1u);
  const auto& m = run.services.committed[0];
  EXPECT_EQ(m.envelope.mail_from.to_string(), "JQP@bar.com");
  EXPECT_TRUE(m.body.starts_with("Received: from bar.com by foo.com ; Thu, 21 May 1998\r\n    05:33:29 -0700\r\n"));
  EXPECT_TRUE(m.body.ends_with("on Tuesday.\r\n                                            John.\r\n"));
}

// D.4 Verifying and Sending Scenario. VRFY does not disclose users (252,
// RFC 5321 §3.5.3); SEND was removed from SMTP and is unrecognised, so the
// RCPT and DATA that follow it are out of sequence; the client then uses MAIL.
TEST(SessionRfc5321AppendixD, D4VerifyingAndSending) {
  FakeServices services{"admin.mrc@foo.com"};
  auto run = expect_transcript(R"(
    S: 220 foo.com
    C: EHLO bar.com
    S: @ehlo
    C: VRFY Crispin
    S: 252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery
    C: SEND FROM:<EAK@bar.com>
    S: 500 5.5.2 Error: command not recognized
    C: RCPT TO:<Admin.MRC@foo.com>
    S: 503 5.5.1 Error: need MAIL command
    C: MAIL FROM:<EAK@bar.com>
    S: 250 2.1.0
    C: RCPT TO:<Admin.MRC@foo.com>
    S: 250 2.1.5
    C: DATA
    S: 354
    C: Blah blah blah...
    C: ....etc. etc. etc.
    C: .
    S: 250 2.0.0 Ok: queued as
    C: QUIT
    S: 221 2.0.0
  )", services, host("foo.com"));
  ASSERT_EQ(run.services.committed.size(), 1u);
  EXPECT_EQ(run.services.committed[0].envelope.mail_from.to_string(), "EAK@bar.com");
}

// RFC 5321 §3.3 with several transactions in one session: the second one
// starts clean (RFC 5321 §4.1.1.5: a completed transaction clears the buffers).
TEST(SessionRfc5321, TwoTransactionsInOneSession) {
  auto run = expect_transcript(R"(
    S: 220
    C: EHLO client.example
    S: @ehlo
    C: MAIL FROM:<a@client.example>
    S: 250 2.1.0
    C: RCPT TO:<demo@example.test>
    S: 250 2.1.5
    C: DATA
    S: 354
    C: first
    C: .
    S: 250 2.0.0 Ok: queued as TESTQUEUEID00001
    C: MAIL FROM:<>
    S: 250 2.1.0
    C: RCPT TO:<alice@example.test>
    S: 250 2.1.5
    C: RCPT TO:<bob@example.test>
    S: 250 2.1.5
    C: DATA
    S: 354
    C: second
    C: .
    S: 250 2.0.0 Ok: queued as TESTQUEUEID00002
    C: QUIT
    S: 221
  )");
  ASSERT_EQ(run.services.committed.size(), 2u);
  EXPECT_EQ(run.services.committed[0].envelope.recipients.size(), 1u);
  EXPECT_EQ(run.services.committed[1].envelope.recipients.size(), 2u);
  EXPECT_TRUE(run.services.committed[1].envelope.mail_from.is_null());
  EXPECT_EQ(run.services.committed[1].body, "second\r\n");
}

}  // namespace
}  // namespace tern::smtp::testing
