// Limits that protect the server: command line length (RFC 5321 §4.5.3.1.4)
// without unbounded buffering, recipients per message (§4.5.3.1.8), the
// consecutive-error budget, and the runtime's timeout and shutdown signals.
#include <gtest/gtest.h>

#include "tests/unit/protocol/smtp/transcript.hpp"

namespace tern::smtp::testing {
namespace {

// 512 octets including the CRLF is the longest command line.
TEST(SessionLimits, CommandLineOf512OctetsIsAcceptedAnd513Refused) {
  std::string at_limit = "NOOP " + std::string(512 - 2 - 5, 'x');
  std::string over = at_limit + "y";
  ASSERT_EQ(at_limit.size() + 2, 512u);
  auto run = expect_transcript("S: 220\nC: EHLO client.example\nS: @ehlo\nC: " + at_limit +
                               "\nS: 250 2.0.0 Ok\nC: " + over +
                               "\nS: 500 5.5.2 Error: line too long\nC: NOOP\nS: 250 2.0.0 Ok\n");
  EXPECT_FALSE(run.closing);
}

// A 100 KB line with no newline: the session drops it as it arrives instead
// of buffering it, answers once when its end comes, and carries on.
TEST(SessionLimits, EndlessLineDoesNotGrowTheBuffer) {
  FakeServices services;
  SessionSettings settings{"mx.example.test", {}};
  ServerSession session(settings, services, "192.0.2.1");
  session.start();
  session.feed("EHLO client.example\r\n");
  session.clear_output();
  const std::string piece(1000, 'A');
  std::size_t max_pending = 0;
  for (int i = 0; i < 100; ++i) {
    session.feed(piece);
    max_pending = std::max(max_pending, session.pending_input());
  }
  EXPECT_LE(max_pending, settings.max_command_line + piece.size());
  EXPECT_EQ(session.output(), "");  // nothing to say until the line ends
  session.feed("\r\nNOOP\r\n");
  EXPECT_EQ(session.output(), "500 5.5.2 Error: line too long\r\n250 2.0.0 Ok\r\n");
  EXPECT_EQ(session.pending_input(), 0u);
}

TEST(SessionLimits, EndlessLineInOneFeedIsDroppedAtOnce) {
  FakeServices services;
  SessionSettings settings{"mx.example.test", {}};
  ServerSession session(settings, services, "192.0.2.1");
  session.start();
  session.feed(std::string(100 * 1024, 'A'));
  EXPECT_LE(session.pending_input(), settings.max_command_line);
  // Chunked or whole, one long line is one error.
  auto script = "S: 220\nC: " + std::string(100 * 1024, 'A') + "\nS: 500 Error: line too long\nC: NOOP\nS: 250 Ok\n";
  auto run = expect_transcript(script);
  EXPECT_LE(run.max_pending, settings.max_command_line + 64);
}

TEST(SessionLimits, MaxRecipientsIs452) {
  SessionOptions options;
  options.limits.max_recipients = 3;
  auto run = expect_transcript(R"(
    S: 220
    C: EHLO client.example
    S: @ehlo
    C: MAIL FROM:<a@client.example>
    S: 250 2.1.0
    C: RCPT TO:<demo@example.test>
    S: 250 2.1.5
    C: RCPT TO:<alice@example.test>
    S: 250 2.1.5
    C: RCPT TO:<bob@example.test>
    S: 250 2.1.5
    C: RCPT TO:<postmaster@example.test>
    S: 452 4.5.3 Error: too many recipients
    C: DATA
    S: 354
    C: .
    S: 250 2.0.0
  )", {}, options);
  ASSERT_EQ(run.services.committed.size(), 1u);
  EXPECT_EQ(run.services.committed[0].envelope.recipients.size(), 3u);
}

// RFC 5321 §4.5.3.1.10: a client that sends more RCPTs than the server takes
// gets 452 for the surplus and delivers those later; the transaction with
// the accepted recipients must go on. A pipelining client sends them all at
// once, so more than max_errors 452s in a row must not end the session (like
// Postfix's smtpd_recipient_overshoot_limit, the surplus is not a protocol
// error).
TEST(SessionLimits, RecipientSurplusDoesNotExhaustTheErrorBudget) {
  SessionOptions options;
  options.limits.max_recipients = 100;
  std::string script = "S: 220\nC: EHLO client.example\nS: @ehlo\nC: MAIL FROM:<a@client.example>\nS: 250 2.1.0\n";
  for (int i = 0; i < 100; ++i) script += "C: RCPT TO:<demo@example.test>\nS: 250 2.1.5\n";
  for (int i = 0; i < 15; ++i) script += "C: RCPT TO:<alice@example.test>\nS: 452 4.5.3\n";
  script += "C: DATA\nS: 354\nC: hi\nC: .\nS: 250 2.0.0\n";
  auto run = expect_transcript(script, {}, options);
  EXPECT_FALSE(run.closing);
  EXPECT_EQ(run.services.committed.size(), 1u);
}

// Too many failed commands in a row: 421 and the session closes.
TEST(SessionLimits, ConsecutiveErrorsEndTheSession) {
  std::string script = "S: 220\nC: EHLO client.example\nS: @ehlo\n";
  for (int i = 0; i < 9; ++i) script += "C: FROB\nS: 500 5.5.2\n";
  script += "C: FROB\nS: 500 5.5.2\nS: 421 4.7.0 mx.example.test Error: too many errors\nC: NOOP\n";
  auto run = expect_transcript(script);
  EXPECT_TRUE(run.closing);
}

TEST(SessionLimits, ASuccessResetsTheErrorCount) {
  std::string script = "S: 220\nC: EHLO client.example\nS: @ehlo\n";
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 9; ++i) script += "C: FROB\nS: 500\n";
    script += "C: NOOP\nS: 250\n";
  }
  auto run = expect_transcript(script);
  EXPECT_FALSE(run.closing);
}

TEST(SessionLimits, ErrorLimitIsConfigurable) {
  SessionOptions options;
  options.limits.max_errors = 2;
  auto run = expect_transcript(R"(
    S: 220
    C: MAIL FROM:<a@b.example>
    S: 503 Error: send HELO/EHLO first
    C: RCPT TO:<a@b.example>
    S: 503 Error: need MAIL command
    S: 421 mx.example.test Error: too many errors
  )", {}, options);
  EXPECT_TRUE(run.closing);
}

// RFC 5321 §4.5.3.2: when the read deadline passes the server may close with 421.
TEST(SessionLimits, TimeoutIs421AndCloses) {
  FakeServices services;
  SessionSettings settings{"mx.example.test", {}};
  ServerSession session(settings, services, "192.0.2.1");
  session.start();
  session.feed("EHLO client.example\r\nNOOP");  // an unfinished command is dropped
  session.clear_output();
  session.on_timeout();
  EXPECT_EQ(session.output(), "421 4.4.2 mx.example.test Error: timeout exceeded\r\n");
  EXPECT_TRUE(session.closing());
  session.clear_output();
  session.feed("\r\nNOOP\r\n");
  session.on_timeout();
  EXPECT_EQ(session.output(), "");  // closed sessions say nothing more
}

TEST(SessionLimits, TimeoutDuringDataDiscardsTheMessage) {
  FakeServices services;
  SessionSettings settings{"mx.example.test", {}};
  ServerSession session(settings, services, "192.0.2.1");
  session.start();
  session.feed("EHLO c.example\r\nMAIL FROM:<a@c.example>\r\nRCPT TO:<demo@example.test>\r\nDATA\r\npart of it\r\n");
  ASSERT_TRUE(session.in_data());
  session.clear_output();
  session.on_timeout();
  EXPECT_EQ(session.output(), "421 4.4.2 mx.example.test Error: timeout exceeded\r\n");
  EXPECT_EQ(services.discards, 1);
  EXPECT_FALSE(services.open.has_value());
  EXPECT_TRUE(services.committed.empty());
}

TEST(SessionLimits, ShutdownWhenIdleIs421) {
  FakeServices services;
  SessionSettings settings{"mx.example.test", {}};
  ServerSession session(settings, services, "192.0.2.1");
  session.start();
  session.feed("EHLO client.example\r\nMAIL FROM:<a@c.example>\r\n");
  session.clear_output();
  session.on_shutdown();
  EXPECT_EQ(session.output(), "421 4.3.2 mx.example.test Service shutting down, closing channel\r\n");
  EXPECT_TRUE(session.closing());
}

// SIGTERM during DATA: the message in flight finishes (and is acknowledged)
// before the 421, so nothing the client sent is lost.
TEST(SessionLimits, ShutdownDuringDataLetsTheMessageFinish) {
  FakeServices services;
  SessionSettings settings{"mx.example.test", {}};
  ServerSession session(settings, services, "192.0.2.1");
  session.start();
  session.feed("EHLO c.example\r\nMAIL FROM:<a@c.example>\r\nRCPT TO:<demo@example.test>\r\nDATA\r\nfirst half\r\n");
  session.clear_output();
  session.on_shutdown();
  EXPECT_EQ(session.output(), "");
  EXPECT_FALSE(session.closing());
  session.feed("second half\r\n.\r\nMAIL FROM:<b@c.example>\r\n");
  ASSERT_TRUE(session.awaiting_commit());
  session.on_commit(services.commit());
  EXPECT_EQ(session.output(),
            "250 2.0.0 Ok: queued as TESTQUEUEID00001\r\n"
            "421 4.3.2 mx.example.test Service shutting down, closing channel\r\n");
  EXPECT_TRUE(session.closing());
  ASSERT_EQ(services.committed.size(), 1u);
  EXPECT_EQ(services.committed[0].body, "first half\r\nsecond half\r\n");
}

TEST(SessionLimits, ShutdownWhileAwaitingCommitWaitsForIt) {
  FakeServices services;
  SessionSettings settings{"mx.example.test", {}};
  ServerSession session(settings, services, "192.0.2.1");
  session.start();
  session.feed("EHLO c.example\r\nMAIL FROM:<a@c.example>\r\nRCPT TO:<demo@example.test>\r\nDATA\r\nx\r\n.\r\n");
  ASSERT_TRUE(session.awaiting_commit());
  session.clear_output();
  session.on_shutdown();
  EXPECT_EQ(session.output(), "");
  session.on_commit(services.commit());
  EXPECT_EQ(session.output(),
            "250 2.0.0 Ok: queued as TESTQUEUEID00001\r\n"
            "421 4.3.2 mx.example.test Service shutting down, closing channel\r\n");
  EXPECT_TRUE(session.closing());
}

TEST(SessionLimits, ShutdownDuringARefusedMessageStillCloses) {
  FakeServices services;
  SessionSettings settings{"mx.example.test", {}};
  ServerSession session(settings, services, "192.0.2.1");
  session.start();
  session.feed("EHLO c.example\r\nMAIL FROM:<a@c.example>\r\nRCPT TO:<demo@example.test>\r\nDATA\r\nbare\nlf\r\n");
  session.clear_output();
  session.on_shutdown();
  session.feed(".\r\n");
  EXPECT_FALSE(session.awaiting_commit());
  EXPECT_EQ(session.output(),
            "550 5.6.0 Error: bare CR or LF in message text (RFC 5321 §2.3.8); not delivered\r\n"
            "421 4.3.2 mx.example.test Service shutting down, closing channel\r\n");
  EXPECT_TRUE(session.closing());
}

}  // namespace
}  // namespace tern::smtp::testing
