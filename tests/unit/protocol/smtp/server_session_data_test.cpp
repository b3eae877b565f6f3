// The DATA phase as the session runs it: dot-unstuffing on the way to the
// services, the one true end <CRLF>.<CRLF>, SMTP smuggling sequences that
// must not end the message, the size, line and hop limits (each rejected
// only at the real end, with nothing kept), and the commit step's failures.
#include <gtest/gtest.h>

#include "tests/unit/protocol/smtp/transcript.hpp"

namespace tern::smtp::testing {
namespace {

constexpr std::string_view envelope = R"(
    S: 220
    C: EHLO client.example
    S: @ehlo
    C: MAIL FROM:<a@client.example>
    S: 250 2.1.0
    C: RCPT TO:<demo@example.test>
    S: 250 2.1.5
)";

std::string with_envelope(std::string_view rest) { return std::string(envelope) + std::string(rest); }

TEST(SessionData, DotStuffingIsRemoved) {
  auto run = expect_transcript(with_envelope(R"(
    C: DATA
    S: 354
    C: ..
    C: ..leading dot
    C: ...
    C: not. at start.
    C: .
    S: 250 2.0.0
  )"));
  ASSERT_EQ(run.services.committed.size(), 1u);
  EXPECT_EQ(run.services.committed[0].body, ".\r\n.leading dot\r\n..\r\nnot. at start.\r\n");
}

// RFC 2920: everything from EHLO to QUIT in a single write; each reply in
// order, and a second message right after the first.
TEST(SessionData, PipelinedBatchInOneFeedGetsAllRepliesInOrder) {
  FakeServices services;
  std::string batch =
      "EHLO client.example\r\nMAIL FROM:<a@client.example>\r\nRCPT TO:<demo@example.test>\r\n"
      "RCPT TO:<nobody@example.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n"
      "Subject: one\r\n\r\nbody one\r\n.\r\n"
      "MAIL FROM:<b@client.example>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n"
      "body two\r\n.\r\nNOOP\r\nQUIT\r\n";
  SessionSettings settings{"mx.example.test", {}};
  ServerSession session(settings, services, "192.0.2.1");
  session.start();
  session.clear_output();
  session.feed(batch);
  // The first message ends inside this feed: the session waits for its commit
  // and holds the rest of the batch until then.
  ASSERT_TRUE(session.awaiting_commit());
  std::string out = session.output();
  session.clear_output();
  session.on_commit(services.commit());
  ASSERT_TRUE(session.awaiting_commit());  // the second message
  out += session.output();
  session.clear_output();
  session.on_commit(services.commit());
  EXPECT_FALSE(session.awaiting_commit());
  out += session.output();
  EXPECT_EQ(out,
            "250-mx.example.test Hello client.example\r\n250-PIPELINING\r\n250-SIZE 26214400\r\n"
            "250-8BITMIME\r\n250-SMTPUTF8\r\n250-ENHANCEDSTATUSCODES\r\n250 HELP\r\n"
            "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
            "550 5.1.1 <nobody@example.test>: Recipient address rejected: User unknown\r\n"
            "250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
            "250 2.0.0 Ok: queued as TESTQUEUEID00001\r\n"
            "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
            "250 2.0.0 Ok: queued as TESTQUEUEID00002\r\n"
            "250 2.0.0 Ok\r\n221 2.0.0 mx.example.test Bye\r\n");
  EXPECT_TRUE(session.closing());
  ASSERT_EQ(services.committed.size(), 2u);
  EXPECT_EQ(services.committed[0].body, "Subject: one\r\n\r\nbody one\r\n");
  EXPECT_EQ(services.committed[0].envelope.recipients.size(), 2u);
  EXPECT_EQ(services.committed[1].body, "body two\r\n");
}

// The same batch through the transcript runner: every chunking agrees.
TEST(SessionData, PipelinedBatchTranscript) {
  auto run = expect_transcript(with_envelope(R"(
    C: DATA
    S: 354
    C: one
    C: .
    S: 250 2.0.0 Ok: queued as TESTQUEUEID00001
    C: MAIL FROM:<b@client.example>
    S: 250 2.1.0
    C: RCPT TO:<bob@example.test>
    S: 250 2.1.5
    C: DATA
    S: 354
    C: two
    C: .
    S: 250 2.0.0 Ok: queued as TESTQUEUEID00002
    C: QUIT
    S: 221
  )"));
  EXPECT_EQ(run.services.committed.size(), 2u);
}

// SMTP smuggling (CVE-2023-51764 and friends): a bare LF or bare CR never
// makes a line end, so none of these sequences ends the message and the
// "smuggled" MAIL FROM inside it is never run as a command. The message is
// refused at the real end (550 5.6.0) and nothing of it is kept.
struct Smuggling {
  const char* name;
  const char* bytes;
};
void PrintTo(const Smuggling& s, std::ostream* os) { *os << s.name; }
class SessionSmuggling : public ::testing::TestWithParam<Smuggling> {};

TEST_P(SessionSmuggling, SequenceDoesNotEndTheMessage) {
  std::string raw = std::string("R: legit\\r\\n") + GetParam().bytes +
                    "MAIL FROM:<evil@client.example>\\r\\nRCPT TO:<alice@example.test>\\r\\nDATA\\r\\nsmuggled\\r\\n";
  auto run = expect_transcript(with_envelope("C: DATA\nS: 354\n" + raw + R"(
    C: .
    S: 550 5.6.0 Error: bare CR or LF in message text
    C: NOOP
    S: 250 2.0.0
  )"));
  EXPECT_TRUE(run.services.committed.empty());
  EXPECT_EQ(run.services.discards, 1);
  // Only the one real recipient was ever checked.
  EXPECT_EQ(run.services.journal, (std::vector<std::string>{"check demo@example.test", "open 1", "discard"}));
}

INSTANTIATE_TEST_SUITE_P(
    AllSequences, SessionSmuggling,
    ::testing::Values(Smuggling{"LF_dot_LF", "\\n.\\n"}, Smuggling{"LF_dot_CRLF", "\\n.\\r\\n"},
                      Smuggling{"CR_dot_CR", "\\r.\\r"}, Smuggling{"CRLF_dot_LF", "\\r\\n.\\n"},
                      Smuggling{"CRLF_dot_CR", "\\r\\n.\\r"}, Smuggling{"CR_dot_CRLF", "\\r.\\r\\n"}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(SessionData, BareLfInTextIsRefusedAtTheEnd) {
  auto run = expect_transcript(with_envelope(R"(
    C: DATA
    S: 354
    R: line one\nline two\r\n
    C: .
    S: 550 5.6.0
    C: MAIL FROM:<a@client.example>
    S: 250 2.1.0
  )"));
  EXPECT_TRUE(run.services.committed.empty());
  EXPECT_FALSE(run.services.open.has_value());
}

// RFC 1870 §6: over the limit while streaming, the rest is read and dropped,
// then 552; the services never receive more than the limit.
TEST(SessionData, MessageOverSizeLimitIsRefusedAfterTheEnd) {
  SessionOptions options;
  options.limits.max_message_size = 100;
  std::string body;
  for (int i = 0; i < 10; ++i) body += "C: " + std::string(20, 'a' + i) + "\n";
  FakeServices services;
  auto run = expect_transcript(with_envelope("C: DATA\nS: 354\n" + body + R"(
    C: .
    S: 552 5.3.4 Error: message size exceeds fixed limit
    C: NOOP
    S: 250 2.0.0
  )"), services, options);
  EXPECT_TRUE(run.services.committed.empty());
  EXPECT_EQ(run.services.discards, 1);
}

TEST(SessionData, MessageExactlyAtSizeLimitIsAccepted) {
  SessionOptions options;
  options.limits.max_message_size = 100;
  // Four lines of 23 octets plus CRLF: exactly 100 octets of message.
  std::string body;
  for (int i = 0; i < 4; ++i) body += "C: " + std::string(23, 'a' + i) + "\n";
  auto run = expect_transcript(with_envelope("C: DATA\nS: 354\n" + body + R"(
    C: .
    S: 250 2.0.0
  )"), {}, options);
  ASSERT_EQ(run.services.committed.size(), 1u);
  EXPECT_EQ(run.services.committed[0].body.size(), 100u);
}

// RFC 5321 §4.5.3.1.6: a text line is at most 1000 octets with its CRLF.
TEST(SessionData, TextLineLimit) {
  std::string ok_line = "C: " + std::string(998, 'x') + "\n";
  auto ok = expect_transcript(with_envelope("C: DATA\nS: 354\n" + ok_line + "C: .\nS: 250 2.0.0\n"));
  EXPECT_EQ(ok.services.committed.size(), 1u);

  std::string long_line = "C: " + std::string(999, 'x') + "\n";
  auto bad = expect_transcript(
      with_envelope("C: DATA\nS: 354\n" + long_line + "C: .\nS: 552 5.3.4 Error: message line longer than 1000\n"));
  EXPECT_TRUE(bad.services.committed.empty());
  EXPECT_EQ(bad.services.discards, 1);
}

// RFC 5321 §6.3: too many Received: headers means a mail loop.
TEST(SessionData, TooManyReceivedHeadersIsALoop) {
  SessionOptions options;
  options.limits.max_received_headers = 3;
  std::string three = "C: Received: from a\nC: received: from b\nC: RECEIVED: from c\n";
  auto ok = expect_transcript(with_envelope("C: DATA\nS: 354\n" + three + "C:\nC: body\nC: .\nS: 250 2.0.0\n"), {},
                              options);
  EXPECT_EQ(ok.services.committed.size(), 1u);

  auto loop = expect_transcript(
      with_envelope("C: DATA\nS: 354\n" + three + "C: Received: from d\nC:\nC: .\nS: 554 5.4.6 Error: too many hops\n"),
      {}, options);
  EXPECT_TRUE(loop.services.committed.empty());

  // Received: lines in the body (after the blank line) are not trace headers.
  auto body = expect_transcript(
      with_envelope("C: DATA\nS: 354\n" + three + "C:\nC: Received: from d\nC: Received: from e\nC: .\nS: 250 2.0.0\n"),
      {}, options);
  EXPECT_EQ(body.services.committed.size(), 1u);
}

TEST(SessionData, OpenFailureIs451AndTheSessionGoesOn) {
  FakeServices services;
  services.fail_open = true;
  auto run = expect_transcript(with_envelope(R"(
    C: DATA
    S: 451 4.3.0 Local error: cannot open message
    C: RSET
    S: 250 2.0.0
  )"), services);
  EXPECT_TRUE(run.services.committed.empty());
}

// RFC 5321 §4.2.5: when the message cannot be made durable the answer is a
// 4xx and the client keeps it; the next transaction starts clean.
TEST(SessionData, CommitFailureIs451) {
  FakeServices services;
  services.fail_commit = true;
  auto run = expect_transcript(with_envelope(R"(
    C: DATA
    S: 354
    C: hello
    C: .
    S: 451 4.3.0 Local error in processing
    C: RCPT TO:<demo@example.test>
    S: 503 5.5.1 Error: need MAIL command
  )"), services);
  EXPECT_TRUE(run.services.committed.empty());
}

// The session asks for the commit and says nothing until it is done.
TEST(SessionData, NoReplyUntilTheCommitCompletes) {
  FakeServices services;
  SessionSettings settings{"mx.example.test", {}};
  ServerSession session(settings, services, "192.0.2.1");
  session.start();
  session.feed("EHLO c.example\r\nMAIL FROM:<a@c.example>\r\nRCPT TO:<demo@example.test>\r\nDATA\r\nhi\r\n.\r\nNOOP\r\n");
  EXPECT_TRUE(session.awaiting_commit());
  EXPECT_TRUE(session.in_data());
  EXPECT_TRUE(session.output().ends_with("354 End data with <CR><LF>.<CR><LF>\r\n"));
  EXPECT_EQ(session.queue_id(), "TESTQUEUEID00001");
  session.clear_output();
  session.feed("NOOP\r\n");  // held, not answered, while the commit runs
  EXPECT_EQ(session.output(), "");
  session.on_commit(services.commit());
  EXPECT_EQ(session.output(), "250 2.0.0 Ok: queued as TESTQUEUEID00001\r\n250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n");
  EXPECT_TRUE(session.idle());
  EXPECT_EQ(session.last_reply_line(), "250 2.0.0 Ok");
}

}  // namespace
}  // namespace tern::smtp::testing
