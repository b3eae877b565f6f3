// Each SMTP command on its own: the happy answer, and the sequence (503),
// syntax (501), parameter (555/552) and policy answers around it. Replies
// carry RFC 3463 enhanced codes only after EHLO (RFC 2034 §3).
#include <gtest/gtest.h>

#include "tests/unit/protocol/smtp/transcript.hpp"

namespace tern::smtp::testing {
namespace {

TEST(SessionCommands, GreetingNamesTheHostWithoutEnhancedCode) {
  auto run = expect_transcript("S: 220 mx.example.test ESMTP Tern");
  EXPECT_EQ(run.output, "220 mx.example.test ESMTP Tern\r\n");
}

TEST(SessionCommands, EhloIsMultiLineWithEveryExtension) {
  auto run = expect_transcript(R"(
    S: 220
    C: EHLO client.example
    S: 250-mx.example.test Hello client.example
    S: 250-PIPELINING
    S: 250-SIZE 26214400
    S: 250-8BITMIME
    S: 250-SMTPUTF8
    S: 250-ENHANCEDSTATUSCODES
    S: 250 HELP
  )");
  // RFC 5321 §4.2.1: "250-" on every line but the last, which is exactly "250 ".
  EXPECT_EQ(run.lines.back(), "250 HELP");
}

TEST(SessionCommands, EhloAdvertisesTheConfiguredSize) {
  SessionOptions options;
  options.limits.max_message_size = 12345;
  expect_transcript(R"(
    S: 220
    C: EHLO client.example
    S: 250-
    S: 250-PIPELINING
    S: 250-SIZE 12345
    S: 250-8BITMIME
    S: 250-SMTPUTF8
    S: 250-ENHANCEDSTATUSCODES
    S: 250 HELP
  )", {}, options);
}

TEST(SessionCommands, HeloAndEhloNeedAnArgument) {
  expect_transcript(R"(
    S: 220
    C: HELO
    S: 501 Syntax: HELO hostname
    C: EHLO
    S: 501 Syntax: EHLO hostname
    C: MAIL FROM:<a@b.example>
    S: 503 Error: send HELO/EHLO first
  )");
}

TEST(SessionCommands, EnhancedCodesOnlyAfterEhlo) {
  auto helo = expect_transcript(R"(
    S: 220
    C: HELO client.example
    S: 250 mx.example.test
    C: MAIL FROM:<a@client.example>
    S: 250 Ok
    C: RCPT TO:<nobody@example.test>
    S: 550 <nobody@example.test>: Recipient address rejected: User unknown
    C: NOOP
    S: 250 Ok
    C: QUIT
    S: 221 mx.example.test Bye
  )");
  auto ehlo = expect_transcript(R"(
    S: 220
    C: EHLO client.example
    S: @ehlo
    C: MAIL FROM:<a@client.example>
    S: 250 2.1.0 Ok
    C: RCPT TO:<nobody@example.test>
    S: 550 5.1.1 <nobody@example.test>: Recipient address rejected: User unknown
    C: NOOP
    S: 250 2.0.0 Ok
    C: QUIT
    S: 221 2.0.0 mx.example.test Bye
  )");
  // No reply line after HELO may look like "NNN d.d.d".
  for (const auto& line : helo.lines) {
    ASSERT_GE(line.size(), 5u);
    EXPECT_FALSE(line[4] >= '2' && line[4] <= '5' && line.size() > 5 && line[5] == '.') << line;
  }
}

TEST(SessionCommands, HeloAfterEhloTurnsEnhancedCodesOff) {
  expect_transcript(R"(
    S: 220
    C: EHLO client.example
    S: @ehlo
    C: NOOP
    S: 250 2.0.0 Ok
    C: HELO client.example
    S: 250 mx.example.test
    C: NOOP
    S: 250 Ok
  )");
}

// RFC 5321 §4.1.4: EHLO in the middle of a transaction resets it.
TEST(SessionCommands, EhloResetsTheTransaction) {
  expect_transcript(R"(
    S: 220
    C: EHLO client.example
    S: @ehlo
    C: MAIL FROM:<a@client.example>
    S: 250 2.1.0
    C: RCPT TO:<demo@example.test>
    S: 250 2.1.5
    C: EHLO client.example
    S: @ehlo
    C: RCPT TO:<demo@example.test>
    S: 503 5.5.1 Error: need MAIL command
    C: DATA
    S: 503 5.5.1
  )");
}

TEST(SessionCommands, NoopRsetQuitAndArguments) {
  auto run = expect_transcript(R"(
    S: 220
    C: EHLO client.example
    S: @ehlo
    C: NOOP
    S: 250 2.0.0 Ok
    C: NOOP anything at all
    S: 250 2.0.0 Ok
    C: RSET
    S: 250 2.0.0 Ok
    C: RSET now
    S: 501 5.5.4 Syntax: RSET
    C: QUIT
    S: 221 2.0.0 mx.example.test Bye
    C: NOOP
  )");
  // Nothing is read after QUIT.
  EXPECT_TRUE(run.closing);
}

TEST(SessionCommands, RsetClearsTheTransaction) {
  expect_transcript(R"(
    S: 220
    C: EHLO client.example
    S: @ehlo
    C: MAIL FROM:<a@client.example>
    S: 250 2.1.0
    C: RCPT TO:<demo@example.test>
    S: 250 2.1.5
    C: RSET
    S: 250 2.0.0
    C: RCPT TO:<demo@example.test>
    S: 503 5.5.1 Error: need MAIL command
    C: MAIL FROM:<b@client.example>
    S: 250 2.1.0
  )");
}

TEST(SessionCommands, VrfyAnswers252WithoutDisclosure) {
  FakeServices services;
  auto run = expect_transcript(R"(
    S: 220
    C: EHLO client.example
    S: @ehlo
    C: VRFY demo
    S: 252 2.5.0
    C: VRFY nobody@example.test
    S: 252 2.5.0
    C: VRFY
    S: 501 5.5.4 Syntax: VRFY address
  )", services);
  // VRFY must not look users up: the answer is the same for everyone.
  EXPECT_EQ(run.lines[8], run.lines[9]);
  EXPECT_TRUE(run.services.journal.empty());
}

TEST(SessionCommands, ExpnIsRefused) {
  expect_transcript(R"(
    S: 220
    C: EHLO client.example
    S: @ehlo
    C: EXPN staff
    S: 502 5.5.1 Error: EXPN not available
  )");
}

TEST(SessionCommands, HelpIs214WithAndWithoutArgument) {
  expect_transcript(R"(
    S: 220
    C: HELP
    S: 214-Commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY EXPN HELP
    S: 214 See RFC 5321
    C: EHLO client.example
    S: @ehlo
    C: HELP MAIL
    S: 214-2.0.0 Commands:
    S: 214 2.0.0 See RFC 5321
  )");
}

TEST(SessionCommands, UnknownAndUnimplementedCommands) {
  expect_transcript(R"(
    S: 220
    C: EHLO client.example
    S: @ehlo
    C: FROB
    S: 500 5.5.2 Error: command not recognized
    C: MAILFROM:<a@b.example>
    S: 500 5.5.2
    C:
    S: 500 5.5.2
    C: STARTTLS
    S: 502 5.5.1 Error: command not implemented
    C: BDAT 10 LAST
    S: 502 5.5.1
    C: AUTH PLAIN AGFsaWNlAHNlY3JldA==
    S: 502 5.5.1
    C: NOOP
    S: 250 2.0.0
  )");
}

TEST(SessionCommands, SequenceErrors) {
  expect_transcript(R"(
    S: 220
    C: MAIL FROM:<a@client.example>
    S: 503 Error: send HELO/EHLO first
    C: RCPT TO:<demo@example.test>
    S: 503 Error: need MAIL command
    C: DATA
    S: 503 Error: need MAIL command
    C: EHLO client.example
    S: @ehlo
    C: RCPT TO:<demo@example.test>
    S: 503 5.5.1 Error: need MAIL command
    C: DATA
    S: 503 5.5.1 Error: need MAIL command
    C: MAIL FROM:<a@client.example>
    S: 250 2.1.0
    C: MAIL FROM:<a@client.example>
    S: 503 5.5.1 Error: nested MAIL command
    C: DATA
    S: 554 5.5.1 Error: no valid recipients
  )");
}

TEST(SessionCommands, MailSyntaxErrors) {
  expect_transcript(R"(
    S: 220
    C: EHLO client.example
    S: @ehlo
    C: MAIL
    S: 501 5.5.4 Syntax: MAIL FROM:<address>
    C: MAIL TO:<a@client.example>
    S: 501 5.5.4 Syntax: MAIL FROM:<address>
    C: MAIL FROM:
    S: 501 5.1.7 Bad sender address syntax: missing address
    C: MAIL FROM:<a@client.example
    S: 501 5.1.7 Bad sender address syntax: missing '>'
    C: MAIL FROM:<a>
    S: 501 5.1.7 Bad sender address syntax: address has no domain
    C: MAIL FROM:<a..b@client.example>
    S: 501 5.1.7 Bad sender address syntax: invalid local part
    C: MAIL FROM:<postmaster>
    S: 501 5.1.7
    C: MAIL FROM:<a@client.example>junk
    S: 501 5.1.7 Bad sender address syntax: garbage after the address
    C: MAIL FROM:<a@client.example>
    S: 250 2.1.0
  )");
}

TEST(SessionCommands, MailAcceptsTheNullPathAndExtraSpaces) {
  auto run = expect_transcript(R"(
    S: 220
    C: EHLO client.example
    S: @ehlo
    C: MAIL FROM:<>
    S: 250 2.1.0
    C: RSET
    S: 250
    C: MAIL FROM: <a@client.example>
    S: 250 2.1.0
    C: RSET
    S: 250
    C: MAIL   FROM:<a@client.example>   
    S: 250 2.1.0
  )");
  EXPECT_EQ(run.lines.size(), 13u);
}

TEST(SessionCommands, RcptSyntaxErrors) {
  expect_transcript(R"(
    S: 220
    C: EHLO client.example
    S: @ehlo
    C: MAIL FROM:<a@client.example>
    S: 250 2.1.0
    C: RCPT
    S: 501 5.5.4 Syntax: RCPT TO:<address>
    C: RCPT FROM:<demo@example.test>
    S: 501 5.5.4
    C: RCPT TO:<>
    S: 501 5.1.3 Bad recipient address syntax: empty recipient address
    C: RCPT TO:<demo@example..test>
    S: 501 5.1.3 Bad recipient address syntax: invalid domain
    C: RCPT TO:<demo@example.test
    S: 501 5.1.3
    C: RCPT TO:<demo@example.test>
    S: 250 2.1.5
  )");
}

TEST(SessionCommands, RcptVerdicts) {
  FakeServices services;
  auto run = expect_transcript(R"(
    S: 220
    C: EHLO client.example
    S: @ehlo
    C: MAIL FROM:<a@client.example>
    S: 250 2.1.0
    C: RCPT TO:<demo@example.test>
    S: 250 2.1.5 Ok
    C: RCPT TO:<DEMO@Example.TEST>
    S: 250 2.1.5 Ok
    C: RCPT TO:<nobody@example.test>
    S: 550 5.1.1 <nobody@example.test>: Recipient address rejected: User unknown
    C: RCPT TO:<someone@elsewhere.example>
    S: 554 5.7.1 <someone@elsewhere.example>: Relay access denied
    C: RCPT TO:<postmaster>
    S: 250 2.1.5
    C: RCPT TO:<Postmaster@example.test>
    S: 250 2.1.5
  )", services);
  EXPECT_EQ(run.services.journal.size(), 6u);
}

TEST(SessionCommands, RcptLookupFailureIsTemporary) {
  FakeServices services;
  services.lookup_fails = true;
  expect_transcript(R"(
    S: 220
    C: EHLO client.example
    S: @ehlo
    C: MAIL FROM:<a@client.example>
    S: 250 2.1.0
    C: RCPT TO:<demo@example.test>
    S: 451 4.3.0 Error: recipient lookup failed, try again later
    C: DATA
    S: 554 5.5.1
  )", services);
}

// RFC 5321 §4.1.1.11 and RFC 1869: parameters need EHLO, unknown ones are
// refused with 555, SIZE is checked at MAIL (RFC 1870 §6).
TEST(SessionCommands, MailParameters) {
  SessionOptions options;
  options.limits.max_message_size = 10000;
  auto run = expect_transcript(R"(
    S: 220
    C: EHLO client.example
    S: @ehlo
    C: MAIL FROM:<a@client.example> SIZE=10000
    S: 250 2.1.0
    C: RSET
    S: 250
    C: MAIL FROM:<a@client.example> SIZE=10001
    S: 552 5.3.4 Message size exceeds fixed limit
    C: MAIL FROM:<a@client.example> SIZE=abc
    S: 501 5.5.4 Bad SIZE parameter
    C: MAIL FROM:<a@client.example> SIZE
    S: 501 5.5.4 Bad SIZE parameter
    C: MAIL FROM:<a@client.example> SIZE=-1
    S: 501 5.5.4
    C: MAIL FROM:<a@client.example> SIZE=99999999999999999999999
    S: 501 5.5.4
    C: MAIL FROM:<a@client.example> FROB=1
    S: 555 5.5.4 Unsupported parameter FROB
    C: MAIL FROM:<a@client.example> BODY=BINARYMIME
    S: 555 5.5.4 Unsupported BODY parameter
    C: MAIL FROM:<a@client.example> BODY=7BIT
    S: 250 2.1.0
    C: RSET
    S: 250
    C: MAIL FROM:<a@client.example> body=8bitmime size=100 SMTPUTF8
    S: 250 2.1.0
    C: RCPT TO:<demo@example.test>
    S: 250 2.1.5
    C: DATA
    S: 354
    C: x
    C: .
    S: 250 2.0.0
  )", {}, options);
  ASSERT_EQ(run.services.committed.size(), 1u);
  const Envelope& e = run.services.committed[0].envelope;
  EXPECT_TRUE(e.body_8bit);
  EXPECT_TRUE(e.smtputf8);
  EXPECT_EQ(e.declared_size, 100u);
  // RFC 3848 / RFC 6531 §3.7.3: the Received: protocol says UTF8SMTP.
  EXPECT_NE(run.services.committed[0].trace_header.find("with UTF8SMTP"), std::string::npos);
}

TEST(SessionCommands, ParametersNeedEhlo) {
  expect_transcript(R"(
    S: 220
    C: HELO client.example
    S: 250
    C: MAIL FROM:<a@client.example> SIZE=10
    S: 555 Parameters need EHLO
    C: MAIL FROM:<a@client.example>
    S: 250 Ok
    C: RCPT TO:<demo@example.test> NOTIFY=NEVER
    S: 555 Parameters need EHLO
  )");
}

TEST(SessionCommands, RcptParametersAreRefused) {
  expect_transcript(R"(
    S: 220
    C: EHLO client.example
    S: @ehlo
    C: MAIL FROM:<a@client.example>
    S: 250 2.1.0
    C: RCPT TO:<demo@example.test> NOTIFY=NEVER
    S: 555 5.5.4 Unsupported parameter NOTIFY
  )");
}

// RFC 6531 §3.4: a non-ASCII address needs the SMTPUTF8 parameter on MAIL.
TEST(SessionCommands, Utf8AddressesNeedSmtputf8) {
  FakeServices services{"用户@example.test"};
  auto run = expect_transcript(R"(
    S: 220
    C: EHLO client.example
    S: @ehlo
    C: MAIL FROM:<发件人@client.example>
    S: 553 5.6.7 Non-ASCII sender address needs SMTPUTF8
    C: MAIL FROM:<a@client.example>
    S: 250 2.1.0
    C: RCPT TO:<用户@example.test>
    S: 553 5.6.7 Non-ASCII recipient address needs SMTPUTF8
    C: RSET
    S: 250
    C: MAIL FROM:<发件人@client.example> SMTPUTF8
    S: 250 2.1.0
    C: RCPT TO:<用户@example.test>
    S: 250 2.1.5
    C: DATA
    S: 354
    C: Subject: 你好
    C:
    C: 你好
    C: .
    S: 250 2.0.0
  )", services);
  ASSERT_EQ(run.services.committed.size(), 1u);
  EXPECT_TRUE(run.services.committed[0].envelope.smtputf8);
  EXPECT_EQ(run.services.committed[0].envelope.recipients[0].to_string(), "用户@example.test");
}

TEST(SessionCommands, DataWithArgumentOrWithoutRecipients) {
  auto run = expect_transcript(R"(
    S: 220
    C: EHLO client.example
    S: @ehlo
    C: MAIL FROM:<a@client.example>
    S: 250 2.1.0
    C: RCPT TO:<nobody@example.test>
    S: 550 5.1.1
    C: DATA
    S: 554 5.5.1 Error: no valid recipients
    C: RCPT TO:<demo@example.test>
    S: 250 2.1.5
    C: DATA now
    S: 501 5.5.4 Syntax: DATA
    C: DATA
    S: 354 End data with <CR><LF>.<CR><LF>
    C: .
    S: 250 2.0.0
  )");
  ASSERT_EQ(run.services.committed.size(), 1u);
  EXPECT_EQ(run.services.committed[0].body, "");  // an empty message is a message
}

}  // namespace
}  // namespace tern::smtp::testing
