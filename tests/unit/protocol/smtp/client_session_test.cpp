// ClientSession against scripted servers. A script is the dialogue as the
// RFCs print it:
//   S: text   a server line (CRLF appended)
//   C: text   a line the client must have sent by the next S: block
//   E: close  the server closes the connection; E: timeout  the read deadline passes
// The harness plays the driver (see the contract in client_session.hpp): it
// gives the test's messages when the session is ready, sends their bodies,
// finishes STARTTLS handshakes, and quits at the end. Each script runs with
// the server's bytes fed in chunks of 1, 2, 3, 7 octets and whole; every
// chunking must give the same client bytes, results and failure.
#include "protocol/smtp/client_session.hpp"

#include <gtest/gtest.h>

#include <sstream>

#include "base/base64.hpp"

namespace tern::smtp {
namespace {

ClientSettings settings_for(std::string helo_name) {
  ClientSettings s;
  s.helo_name = std::move(helo_name);
  return s;
}

struct TestMessage {
  OutgoingMessage envelope;
  std::string body;
};

TestMessage message(std::string from, std::vector<std::string> rcpts, std::string body = "Subject: t\r\n\r\nhi\r\n") {
  TestMessage m;
  m.envelope.mail_from = std::move(from);
  m.envelope.recipients = std::move(rcpts);
  m.envelope.size = body.size();
  m.body = std::move(body);
  return m;
}

struct Options {
  ClientSettings settings = settings_for("client.example.test");
  std::vector<TestMessage> messages;
  bool tls_fails = false;
  bool quit_at_end = true;
  std::size_t body_chunk = 5;  // pieces given to send_body_chunk
};

struct Run {
  std::string output;               // every client byte
  std::vector<std::string> writes;  // output() as collected after each call
  std::vector<std::string> trace;   // redacted_trace() lines
  std::vector<TransactionResult> results;
  std::optional<ClientFailure> failure;
  ClientAction final_action = ClientAction::read_reply;
  bool tls_active = false;
  bool authenticated = false;
  int handshakes = 0;
  std::vector<std::string> mismatches;  // client bytes not as the script says
};

std::string outcome_name(Outcome o) {
  switch (o) {
    case Outcome::delivered: return "delivered";
    case Outcome::temporary: return "temporary";
    case Outcome::permanent: return "permanent";
  }
  return "?";
}

std::string describe(const TransactionResult& r) {
  std::string s;
  for (const auto& x : r.recipients) {
    if (!s.empty()) s += "; ";
    s += x.recipient + " " + outcome_name(x.response.outcome) + " " + std::to_string(x.response.reply.code);
    if (!x.response.reply.enhanced.empty()) s += " " + x.response.reply.enhanced;
    if (x.response.local) s += " local";
  }
  return s;
}

std::string describe(const std::optional<ClientFailure>& f) {
  if (!f) return "none";
  static const char* stages[] = {"greeting", "helo", "starttls", "tls_handshake", "auth", "transaction", "connection"};
  std::string s = std::string(stages[static_cast<int>(f->stage)]) + (f->temporary ? " temporary" : " permanent");
  if (f->reply) s += " " + std::to_string(f->reply->code);
  return s;
}

Run run_script(std::string_view script, const Options& options, std::size_t chunk) {
  Run run;
  ClientSession s(options.settings);
  std::size_t next_message = 0;
  const TestMessage* current = nullptr;
  bool quit_sent = false;

  auto collect = [&] {
    if (!s.output().empty()) run.writes.push_back(s.output());
    run.output += s.output();
    run.trace.insert(run.trace.end(), s.redacted_trace().begin(), s.redacted_trace().end());
    s.clear_output();
    while (auto r = s.take_result()) run.results.push_back(std::move(*r));
  };
  // The driver: act on action() until the session waits for the server.
  auto pump = [&] {
    for (;;) {
      collect();
      switch (s.action()) {
        case ClientAction::ready:
          if (next_message < options.messages.size()) {
            current = &options.messages[next_message++];
            s.send_message(current->envelope);
          } else if (options.quit_at_end && !quit_sent) {
            quit_sent = true;
            s.quit();
          } else {
            return;
          }
          break;
        case ClientAction::start_tls:
          ++run.handshakes;
          if (options.tls_fails) s.on_tls_failed("certificate verify failed");
          else s.on_tls_started();
          break;
        case ClientAction::send_body: {
          std::string_view body = current->body;
          for (std::size_t pos = 0; pos < body.size(); pos += options.body_chunk) {
            s.send_body_chunk(body.substr(pos, options.body_chunk));
            collect();
          }
          s.end_body();
          break;
        }
        case ClientAction::read_reply:
        case ClientAction::close: return;
      }
    }
  };

  std::string expected_client;
  std::string server_block;
  auto flush = [&] {
    if (server_block.empty()) return;
    // The client must have said everything the script shows before these
    // replies, and nothing more (no command before its turn).
    if (run.output != expected_client)
      run.mismatches.push_back("before server block\n  expected: " + expected_client + "\n  got:      " + run.output);
    std::size_t step = chunk == 0 ? server_block.size() : chunk;
    for (std::size_t pos = 0; pos < server_block.size(); pos += step) {
      s.feed(std::string_view(server_block).substr(pos, step));
      pump();
    }
    server_block.clear();
  };

  pump();
  std::istringstream in{std::string(script)};
  std::string raw;
  while (std::getline(in, raw)) {
    std::string_view line = raw;
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line.empty() || line.front() == '#') continue;
    std::string_view body = line.size() > 2 ? line.substr(2) : std::string_view{};
    if (!body.empty() && body.front() == ' ') body.remove_prefix(1);
    switch (line[0]) {
      case 'S': server_block.append(body).append("\r\n"); break;
      case 'C':
        flush();
        expected_client.append(body).append("\r\n");
        break;
      case 'E':
        flush();
        if (run.output != expected_client)
          run.mismatches.push_back("before " + std::string(body) + "\n  expected: " + expected_client +
                                   "\n  got:      " + run.output);
        if (body == "close") s.on_connection_closed();
        else if (body == "timeout") s.on_timeout();
        else ADD_FAILURE() << "bad event " << body;
        pump();
        break;
      default: ADD_FAILURE() << "bad script line " << raw;
    }
  }
  flush();
  if (run.output != expected_client)
    run.mismatches.push_back("at the end\n  expected: " + expected_client + "\n  got:      " + run.output);
  run.failure = s.failure();
  run.final_action = s.action();
  run.tls_active = s.tls_active();
  run.authenticated = s.authenticated();
  return run;
}

std::vector<std::string> describe_all(const Run& r) {
  std::vector<std::string> out;
  for (const auto& t : r.results) out.push_back(describe(t));
  return out;
}

// Runs the script in every chunking; returns the whole-feed run.
Run expect_dialogue(std::string_view script, const Options& options = {}) {
  Run whole = run_script(script, options, 0);
  for (const auto& m : whole.mismatches) ADD_FAILURE() << "whole feed: " << m;
  for (std::size_t chunk : {1, 2, 3, 7}) {
    Run r = run_script(script, options, chunk);
    for (const auto& m : r.mismatches) ADD_FAILURE() << "chunks of " << chunk << ": " << m;
    EXPECT_EQ(r.output, whole.output) << "chunks of " << chunk;
    EXPECT_EQ(describe_all(r), describe_all(whole)) << "chunks of " << chunk;
    EXPECT_EQ(describe(r.failure), describe(whole.failure)) << "chunks of " << chunk;
    EXPECT_EQ(r.final_action, whole.final_action) << "chunks of " << chunk;
  }
  return whole;
}

Options with(std::vector<TestMessage> messages, ClientTls tls = ClientTls::opportunistic) {
  Options o;
  o.settings.tls = tls;
  o.messages = std::move(messages);
  return o;
}

ClientCredentials seed_credentials() { return {"costa@amaxit.net", "1982214"}; }

// --- the basic dialogue ----------------------------------------------------

// The harness itself must notice a client that says the wrong thing, or says
// it too early; otherwise every test below proves nothing.
TEST(ClientSession, HarnessNoticesWrongOrEarlyClientBytes) {
  auto wrong = run_script("S: 220 mx\nC: HELO client.example.test\nS: 250 mx\n", with({}), 0);
  ASSERT_FALSE(wrong.mismatches.empty());
  EXPECT_NE(wrong.mismatches[0].find("before server block"), std::string::npos);
  // Without PIPELINING, RCPT must wait for the reply to MAIL.
  auto early = run_script(R"(
    S: 220 mx
    C: EHLO client.example.test
    S: 250 mx
    C: MAIL FROM:<a@example.org>
    C: RCPT TO:<b@example.test>
    S: 250 ok
    S: 250 ok
  )",
                          with({message("a@example.org", {"b@example.test"})}), 0);
  EXPECT_FALSE(early.mismatches.empty());
}

TEST(ClientSession, PlainDialogueWithoutPipelining) {
  auto run = expect_dialogue(R"(
    S: 220 mx.example.test ESMTP
    C: EHLO client.example.test
    S: 250-mx.example.test
    S: 250 8BITMIME
    C: MAIL FROM:<alice@example.org>
    S: 250 2.1.0 Ok
    C: RCPT TO:<bob@example.test>
    S: 250 2.1.5 Ok
    C: DATA
    S: 354 End data with <CR><LF>.<CR><LF>
    C: Subject: t
    C:
    C: hi
    C: .
    S: 250 2.0.0 Ok: queued as 1234
    C: QUIT
    S: 221 2.0.0 Bye
  )",
                             with({message("alice@example.org", {"bob@example.test"})}));
  ASSERT_EQ(run.results.size(), 1u);
  EXPECT_EQ(describe(run.results[0]), "bob@example.test delivered 250 2.0.0");
  EXPECT_TRUE(run.results[0].body_sent);
  EXPECT_TRUE(run.results[0].all_delivered());
  EXPECT_EQ(run.results[0].recipients[0].response.reply.lines[0], "Ok: queued as 1234");
  EXPECT_EQ(run.failure, std::nullopt);
  EXPECT_EQ(run.final_action, ClientAction::close);
  EXPECT_FALSE(run.tls_active);
}

TEST(ClientSession, NullSenderAndStuffedBody) {
  Options o = with({message("", {"bob@example.test"}, ".starts with a dot\r\n.\r\nend")});
  for (std::size_t body_chunk : {1, 2, 3, 7, 100}) {
    o.body_chunk = body_chunk;
    auto run = expect_dialogue(R"(
      S: 220 mx
      C: EHLO client.example.test
      S: 250 mx
      C: MAIL FROM:<>
      S: 250 ok
      C: RCPT TO:<bob@example.test>
      S: 250 ok
      C: DATA
      S: 354 go
      C: ..starts with a dot
      C: ..
      C: end
      C: .
      S: 250 ok
      C: QUIT
      S: 221 bye
    )",
                               o);
    EXPECT_EQ(describe(run.results.at(0)), "bob@example.test delivered 250") << body_chunk;
  }
}

// --- PIPELINING (RFC 2920) -------------------------------------------------

TEST(ClientSession, PipelinedGroupIsOneWriteAndRepliesMatchInOrder) {
  TestMessage m = message("alice@example.org", {"bob@example.test", "carol@example.test"});
  m.envelope.body_8bit = true;
  auto run = expect_dialogue(R"(
    S: 220 mx.example.test ESMTP
    C: EHLO client.example.test
    S: 250-mx.example.test
    S: 250-PIPELINING
    S: 250-SIZE 10240000
    S: 250-8BITMIME
    S: 250 ENHANCEDSTATUSCODES
    C: MAIL FROM:<alice@example.org> SIZE=18 BODY=8BITMIME
    C: RCPT TO:<bob@example.test>
    C: RCPT TO:<carol@example.test>
    C: DATA
    S: 250 2.1.0 Ok
    S: 250 2.1.5 Ok
    S: 550 5.1.1 <carol@example.test>: Recipient address rejected: User unknown
    S: 354 End data with <CR><LF>.<CR><LF>
    C: Subject: t
    C:
    C: hi
    C: .
    S: 250 2.0.0 Ok: queued
    C: QUIT
    S: 221 2.0.0 Bye
  )",
                             with({m}));
  ASSERT_GE(run.writes.size(), 2u);
  EXPECT_EQ(run.writes[1],
            "MAIL FROM:<alice@example.org> SIZE=18 BODY=8BITMIME\r\nRCPT TO:<bob@example.test>\r\n"
            "RCPT TO:<carol@example.test>\r\nDATA\r\n");
  ASSERT_EQ(run.results.size(), 1u);
  // One of two recipients refused: each keeps its own reply.
  EXPECT_EQ(describe(run.results[0]), "bob@example.test delivered 250 2.0.0; carol@example.test permanent 550 5.1.1");
  EXPECT_FALSE(run.results[0].all_delivered());
}

TEST(ClientSession, RcptOverLimit452IsTemporary) {
  // RFC 5321 §4.5.3.1.10: 452 "too many recipients" means try the rest later.
  auto run = expect_dialogue(R"(
    S: 220 mx
    C: EHLO client.example.test
    S: 250-mx
    S: 250 PIPELINING
    C: MAIL FROM:<a@example.org>
    C: RCPT TO:<b@example.test>
    C: RCPT TO:<c@example.test>
    C: DATA
    S: 250 ok
    S: 250 ok
    S: 452 4.5.3 Too many recipients
    S: 354 go
    C: Subject: t
    C:
    C: hi
    C: .
    S: 250 ok
    C: QUIT
    S: 221 bye
  )",
                             with({message("a@example.org", {"b@example.test", "c@example.test"})}));
  EXPECT_EQ(describe(run.results.at(0)), "b@example.test delivered 250; c@example.test temporary 452 4.5.3");
}

TEST(ClientSession, PipelinedAllRecipientsRefusedButDataAccepted) {
  // RFC 2920 §3.1: the server should refuse DATA; if it says 354 anyway, the
  // client sends a lone "." and every recipient keeps its RCPT failure. The
  // transaction is then over, so the next message needs no RSET.
  auto run = expect_dialogue(R"(
    S: 220 mx
    C: EHLO client.example.test
    S: 250-mx
    S: 250 PIPELINING
    C: MAIL FROM:<a@example.org>
    C: RCPT TO:<b@example.test>
    C: RCPT TO:<c@example.test>
    C: DATA
    S: 250 ok
    S: 550 5.1.1 no such user
    S: 450 4.2.0 mailbox busy
    S: 354 go ahead (wrongly)
    C: .
    S: 250 2.0.0 empty message accepted
    C: MAIL FROM:<a@example.org>
    C: RCPT TO:<d@example.test>
    C: DATA
    S: 250 ok
    S: 250 ok
    S: 354 go
    C: Subject: t
    C:
    C: hi
    C: .
    S: 250 ok
    C: QUIT
    S: 221 bye
  )",
                             with({message("a@example.org", {"b@example.test", "c@example.test"}),
                                   message("a@example.org", {"d@example.test"})}));
  ASSERT_EQ(run.results.size(), 2u);
  EXPECT_EQ(describe(run.results[0]), "b@example.test permanent 550 5.1.1; c@example.test temporary 450 4.2.0");
  EXPECT_FALSE(run.results[0].body_sent);
  EXPECT_EQ(describe(run.results[1]), "d@example.test delivered 250");
}

TEST(ClientSession, PipelinedAllRecipientsRefusedDataRefusedThenRset) {
  // The proper answer (554 to DATA) leaves the MAIL transaction open: RSET
  // goes first in the next group (RFC 2920 §3.1 allows it there).
  auto run = expect_dialogue(R"(
    S: 220 mx
    C: EHLO client.example.test
    S: 250-mx
    S: 250 PIPELINING
    C: MAIL FROM:<a@example.org>
    C: RCPT TO:<b@example.test>
    C: DATA
    S: 250 ok
    S: 550 5.1.1 no such user
    S: 554 5.5.1 Error: no valid recipients
    C: RSET
    C: MAIL FROM:<a@example.org>
    C: RCPT TO:<c@example.test>
    C: DATA
    S: 250 ok
    S: 250 ok
    S: 250 ok
    S: 354 go
    C: Subject: t
    C:
    C: hi
    C: .
    S: 250 ok
    C: QUIT
    S: 221 bye
  )",
                             with({message("a@example.org", {"b@example.test"}),
                                   message("a@example.org", {"c@example.test"})}));
  ASSERT_EQ(run.results.size(), 2u);
  EXPECT_EQ(describe(run.results[0]), "b@example.test permanent 550 5.1.1");
  EXPECT_EQ(describe(run.results[1]), "c@example.test delivered 250");
}

TEST(ClientSession, PipelinedMailRefusedFailsEveryRecipient) {
  auto run = expect_dialogue(R"(
    S: 220 mx
    C: EHLO client.example.test
    S: 250-mx
    S: 250 PIPELINING
    C: MAIL FROM:<a@example.org>
    C: RCPT TO:<b@example.test>
    C: RCPT TO:<c@example.test>
    C: DATA
    S: 553 5.7.1 sender rejected
    S: 503 5.5.1 need MAIL
    S: 503 5.5.1 need MAIL
    S: 503 5.5.1 need MAIL
    C: MAIL FROM:<ok@example.org>
    C: RCPT TO:<b@example.test>
    C: DATA
    S: 250 ok
    S: 250 ok
    S: 354 go
    C: Subject: t
    C:
    C: hi
    C: .
    S: 451 4.3.0 try later
    C: QUIT
    S: 221 bye
  )",
                             with({message("a@example.org", {"b@example.test", "c@example.test"}),
                                   message("ok@example.org", {"b@example.test"})}));
  ASSERT_EQ(run.results.size(), 2u);
  EXPECT_EQ(describe(run.results[0]), "b@example.test permanent 553 5.7.1; c@example.test permanent 553 5.7.1");
  EXPECT_EQ(describe(run.results[1]), "b@example.test temporary 451 4.3.0");
}

// --- HELO fallback (RFC 5321 §3.2) ----------------------------------------

TEST(ClientSession, HeloFallbackUsesNoExtensions) {
  TestMessage m = message("a@example.org", {"b@example.test"});
  m.envelope.body_8bit = true;
  auto run = expect_dialogue(R"(
    S: 220 old.example.test SMTP
    C: EHLO client.example.test
    S: 502 5.5.2 Error: command not recognized
    C: HELO client.example.test
    S: 250 old.example.test
    C: MAIL FROM:<a@example.org>
    S: 250 ok
    C: RCPT TO:<b@example.test>
    S: 250 ok
    C: DATA
    S: 354 go
    C: Subject: t
    C:
    C: hi
    C: .
    S: 250 ok
    C: QUIT
    S: 221 bye
  )",
                             with({m}));
  EXPECT_EQ(describe(run.results.at(0)), "b@example.test delivered 250");
}

TEST(ClientSession, HeloRefusedIsAConnectionFailure) {
  auto run = expect_dialogue(R"(
    S: 220 mx
    C: EHLO client.example.test
    S: 500 what
    C: HELO client.example.test
    S: 550 5.7.1 go away
    C: QUIT
  )",
                             with({message("a@example.org", {"b@example.test"})}));
  EXPECT_EQ(describe(run.failure), "helo permanent 550");
  EXPECT_TRUE(run.results.empty());
  EXPECT_EQ(run.final_action, ClientAction::close);
}

// --- greeting ----------------------------------------------------------------

TEST(ClientSession, TemporaryGreetingFailure) {
  // 421: the server closes; no QUIT.
  auto run = expect_dialogue("S: 421 4.3.2 mx.example.test Service not available\n",
                             with({message("a@example.org", {"b@example.test"})}));
  EXPECT_EQ(describe(run.failure), "greeting temporary 421");
  EXPECT_EQ(run.output, "");
  EXPECT_EQ(run.final_action, ClientAction::close);
  auto run2 = expect_dialogue("S: 450 not now\nC: QUIT\n", with({}));
  EXPECT_EQ(describe(run2.failure), "greeting temporary 450");
}

TEST(ClientSession, PermanentGreetingFailureSendsQuit) {
  // RFC 5321 §3.1: after a 554 greeting the server waits for QUIT.
  auto run = expect_dialogue(R"(
    S: 554-mx.example.test
    S: 554 No SMTP service here
    C: QUIT
  )",
                             with({message("a@example.org", {"b@example.test"})}));
  EXPECT_EQ(describe(run.failure), "greeting permanent 554");
  ASSERT_TRUE(run.failure->reply);
  EXPECT_EQ(run.failure->reply->lines.size(), 2u);
  EXPECT_FALSE(run.failure->to_error().client_text.empty());
  EXPECT_TRUE(run.failure->to_error().permanent());
}

// --- STARTTLS (RFC 3207) ------------------------------------------------------

TEST(ClientSession, StartTlsThenEhloAgainWithFreshCapabilities) {
  // Before TLS the server claims SIZE 10; after it, no SIZE at all. The
  // message (20 octets) must go, without a SIZE parameter.
  auto run = expect_dialogue(R"(
    S: 220 mx
    C: EHLO client.example.test
    S: 250-mx
    S: 250-SIZE 10
    S: 250-PIPELINING
    S: 250 STARTTLS
    C: STARTTLS
    S: 220 2.0.0 Ready to start TLS
    C: EHLO client.example.test
    S: 250-mx
    S: 250 8BITMIME
    C: MAIL FROM:<a@example.org>
    S: 250 ok
    C: RCPT TO:<b@example.test>
    S: 250 ok
    C: DATA
    S: 354 go
    C: Subject: t
    C:
    C: hi
    C: .
    S: 250 ok
    C: QUIT
    S: 221 bye
  )",
                             with({message("a@example.org", {"b@example.test"})}));
  EXPECT_EQ(run.handshakes, 1);
  EXPECT_TRUE(run.tls_active);
  EXPECT_EQ(describe(run.results.at(0)), "b@example.test delivered 250");
}

TEST(ClientSession, TlsHandshakeFailureIsReportedForRetryWithoutTls) {
  Options o = with({message("a@example.org", {"b@example.test"})});
  o.tls_fails = true;
  auto run = expect_dialogue(R"(
    S: 220 mx
    C: EHLO client.example.test
    S: 250-mx
    S: 250 STARTTLS
    C: STARTTLS
    S: 220 go ahead
  )",
                             o);
  ASSERT_TRUE(run.failure);
  EXPECT_TRUE(run.failure->tls_handshake_failed());
  EXPECT_TRUE(run.failure->temporary);
  EXPECT_EQ(run.final_action, ClientAction::close);
  EXPECT_TRUE(run.results.empty());
}

TEST(ClientSession, StartTlsRefusedOpportunisticCarriesOnInClear) {
  auto run = expect_dialogue(R"(
    S: 220 mx
    C: EHLO client.example.test
    S: 250-mx
    S: 250 STARTTLS
    C: STARTTLS
    S: 454 4.7.0 TLS not available due to temporary reason
    C: MAIL FROM:<a@example.org>
    S: 250 ok
    C: RCPT TO:<b@example.test>
    S: 250 ok
    C: DATA
    S: 354 go
    C: Subject: t
    C:
    C: hi
    C: .
    S: 250 ok
    C: QUIT
    S: 221 bye
  )",
                             with({message("a@example.org", {"b@example.test"})}));
  EXPECT_FALSE(run.tls_active);
  EXPECT_EQ(describe(run.results.at(0)), "b@example.test delivered 250");
}

TEST(ClientSession, RequiredTlsRefusedOrMissingDefers) {
  auto refused = expect_dialogue(R"(
    S: 220 mx
    C: EHLO client.example.test
    S: 250-mx
    S: 250 STARTTLS
    C: STARTTLS
    S: 554 5.7.3 no TLS for you
    C: QUIT
  )",
                                 with({message("a@example.org", {"b@example.test"})}, ClientTls::required));
  EXPECT_EQ(describe(refused.failure), "starttls temporary 554");
  auto missing = expect_dialogue(R"(
    S: 220 mx
    C: EHLO client.example.test
    S: 250-mx
    S: 250 PIPELINING
    C: QUIT
  )",
                                 with({message("a@example.org", {"b@example.test"})}, ClientTls::required));
  EXPECT_EQ(describe(missing.failure), "starttls temporary");
}

TEST(ClientSession, OffNeverStartsTls) {
  auto run = expect_dialogue(R"(
    S: 220 mx
    C: EHLO client.example.test
    S: 250-mx
    S: 250 STARTTLS
    C: QUIT
    S: 221 bye
  )",
                             with({}, ClientTls::off));
  EXPECT_EQ(run.handshakes, 0);
  EXPECT_EQ(run.failure, std::nullopt);
}

// Bytes after the 220 to STARTTLS, in the same read, would be taken as if
// they came over TLS (response injection). Not a chunking test: the driver
// starts the handshake as soon as the 220 has been fed.
TEST(ClientSession, DataAfterStartTls220IsRefused) {
  for (std::string_view tail : {"250 injected\r\n", "2"}) {
    ClientSession s(settings_for("client.example.test"));
    s.feed("220 mx\r\n");
    s.clear_output();
    s.feed("250-mx\r\n250 STARTTLS\r\n");
    EXPECT_EQ(s.output(), "STARTTLS\r\n");
    s.clear_output();
    s.feed("220 go\r\n" + std::string(tail));
    EXPECT_EQ(s.action(), ClientAction::close);
    ASSERT_TRUE(s.failure());
    EXPECT_EQ(s.failure()->stage, ClientFailure::Stage::starttls);
    EXPECT_EQ(s.output(), "");
  }
  // A partial line before the 220 completes counts too.
  ClientSession s(settings_for("client.example.test"));
  s.feed("220 mx\r\n250-mx\r\n250 STARTTLS\r\n");
  s.clear_output();
  s.feed("220-go\r\n220 go\r\n");
  EXPECT_EQ(s.action(), ClientAction::start_tls);
}

// --- AUTH (RFC 4954) -----------------------------------------------------------

TEST(ClientSession, AuthPlainExactBytesAndRedactedTrace) {
  Options o = with({message("costa@amaxit.net", {"bob@example.test"})}, ClientTls::implicit);
  o.settings.credentials = seed_credentials();
  auto run = expect_dialogue(R"(
    S: 220 smtp.example.net ESMTP
    C: EHLO client.example.test
    S: 250-smtp.example.net
    S: 250-PIPELINING
    S: 250 AUTH LOGIN PLAIN
    C: AUTH PLAIN AGNvc3RhQGFtYXhpdC5uZXQAMTk4MjIxNA==
    S: 235 2.7.0 Authentication successful
    C: MAIL FROM:<costa@amaxit.net>
    C: RCPT TO:<bob@example.test>
    C: DATA
    S: 250 ok
    S: 250 ok
    S: 354 go
    C: Subject: t
    C:
    C: hi
    C: .
    S: 250 ok
    C: QUIT
    S: 221 bye
  )",
                             o);
  EXPECT_TRUE(run.authenticated);
  EXPECT_EQ(describe(run.results.at(0)), "bob@example.test delivered 250");
  ASSERT_GE(run.trace.size(), 2u);
  EXPECT_EQ(run.trace[1], "AUTH PLAIN ***");
  for (const auto& line : run.trace) {
    EXPECT_EQ(line.find("AGNvc3Rh"), std::string::npos) << line;
    EXPECT_EQ(line.find("1982214"), std::string::npos) << line;
  }
}

TEST(ClientSession, AuthLoginExactBytes) {
  Options o = with({}, ClientTls::implicit);
  o.settings.credentials = seed_credentials();
  auto run = expect_dialogue(R"(
    S: 220 smtp.example.net ESMTP
    C: EHLO client.example.test
    S: 250-smtp.example.net
    S: 250-AUTH LOGIN
    S: 250 AUTH=LOGIN
    C: AUTH LOGIN
    S: 334 VXNlcm5hbWU6
    C: Y29zdGFAYW1heGl0Lm5ldA==
    S: 334 UGFzc3dvcmQ6
    C: MTk4MjIxNA==
    S: 235 2.7.0 Authentication successful
    C: QUIT
    S: 221 bye
  )",
                             o);
  EXPECT_TRUE(run.authenticated);
  EXPECT_EQ(run.failure, std::nullopt);
  EXPECT_EQ(run.trace, (std::vector<std::string>{"EHLO client.example.test", "AUTH LOGIN", "***", "***", "QUIT"}));
}

// The seed dialogue (shared/seeds/000): a plaintext server announcing AUTH in
// both spellings, a misspelt first prompt and a free-text 235. Plaintext AUTH
// only because the configuration says tls = off.
TEST(ClientSession, SeedDialogueAuthInClearWhenTlsIsOff) {
  Options o = with({}, ClientTls::off);
  o.settings.credentials = seed_credentials();
  auto login_only = expect_dialogue(R"(
    S: 220 163.com Anti-spam GT for Coremail System
    C: EHLO client.example.test
    S: 250-mail
    S: 250-AUTH=LOGIN
    S: 250 8BITMIME
    C: AUTH LOGIN
    S: 334 dxNlcm5hbWU6
    C: Y29zdGFAYW1heGl0Lm5ldA==
    S: 334 UGFzc3dvcmQ6
    C: MTk4MjIxNA==
    S: 235 auth successfully
    C: QUIT
    S: 221 Bye
  )",
                                    o);
  EXPECT_TRUE(login_only.authenticated);
  auto both = expect_dialogue(R"(
    S: 220 163.com Anti-spam GT for Coremail System
    C: EHLO client.example.test
    S: 250-mail
    S: 250-AUTH LOGIN PLAIN
    S: 250-AUTH=LOGIN PLAIN
    S: 250 8BITMIME
    C: AUTH PLAIN AGNvc3RhQGFtYXhpdC5uZXQAMTk4MjIxNA==
    S: 235 auth successfully
    C: QUIT
    S: 221 Bye
  )",
                              o);
  EXPECT_TRUE(both.authenticated);
}

TEST(ClientSession, NoCredentialsInClearWithOpportunisticTls) {
  Options o = with({message("a@example.org", {"b@example.test"})});
  o.settings.credentials = seed_credentials();
  auto run = expect_dialogue(R"(
    S: 220 mx
    C: EHLO client.example.test
    S: 250-mx
    S: 250 AUTH PLAIN LOGIN
    C: QUIT
  )",
                             o);
  EXPECT_EQ(describe(run.failure), "auth temporary");
  EXPECT_EQ(run.output.find("AUTH"), std::string::npos);
}

TEST(ClientSession, AuthRejectedDefers) {
  // Postfix's smtp_sasl_auth_soft_bounce: bad credentials defer, never bounce.
  Options o = with({message("a@example.org", {"b@example.test"})}, ClientTls::implicit);
  o.settings.credentials = seed_credentials();
  auto run = expect_dialogue(R"(
    S: 220 mx
    C: EHLO client.example.test
    S: 250-mx
    S: 250 AUTH LOGIN
    C: AUTH LOGIN
    S: 334 VXNlcm5hbWU6
    C: Y29zdGFAYW1heGl0Lm5ldA==
    S: 334 UGFzc3dvcmQ6
    C: MTk4MjIxNA==
    S: 535 5.7.8 Authentication credentials invalid
    C: QUIT
  )",
                             o);
  EXPECT_EQ(describe(run.failure), "auth temporary 535");
  EXPECT_TRUE(run.results.empty());
  EXPECT_FALSE(run.authenticated);
}

TEST(ClientSession, AuthWithoutUsableMechanism) {
  Options o = with({}, ClientTls::implicit);
  o.settings.credentials = seed_credentials();
  auto run = expect_dialogue(R"(
    S: 220 mx
    C: EHLO client.example.test
    S: 250-mx
    S: 250 AUTH CRAM-MD5 XOAUTH2
    C: QUIT
  )",
                             o);
  EXPECT_EQ(describe(run.failure), "auth temporary");
}

TEST(ClientSession, AuthPlainTooLongForTheCommandLineWaitsFor334) {
  Options o = with({}, ClientTls::implicit);
  o.settings.credentials = ClientCredentials{std::string(200, 'u'), std::string(200, 'p')};
  std::string token = base64_encode(std::string(1, '\0') + std::string(200, 'u') + '\0' + std::string(200, 'p'));
  auto run = expect_dialogue(
      "S: 220 mx\nC: EHLO client.example.test\nS: 250-mx\nS: 250 AUTH PLAIN\nC: AUTH PLAIN\nS: 334 \nC: " + token +
          "\nS: 235 2.7.0 ok\nC: QUIT\nS: 221 bye\n",
      o);
  EXPECT_TRUE(run.authenticated);
  EXPECT_EQ(run.trace, (std::vector<std::string>{"EHLO client.example.test", "AUTH PLAIN", "***", "QUIT"}));
}

TEST(ClientSession, RedactedTranscriptLine) {
  EXPECT_EQ(ClientSession::redacted_transcript_line("AUTH PLAIN AGNvc3Rh", false), "AUTH PLAIN ***");
  EXPECT_EQ(ClientSession::redacted_transcript_line("auth login Y29zdGE=", false), "auth login ***");
  EXPECT_EQ(ClientSession::redacted_transcript_line("AUTH LOGIN", true), "AUTH LOGIN");
  EXPECT_EQ(ClientSession::redacted_transcript_line("MTk4MjIxNA==", true), "***");
  EXPECT_EQ(ClientSession::redacted_transcript_line("MAIL FROM:<a@b>", false), "MAIL FROM:<a@b>");
}

// --- local refusals ----------------------------------------------------------

TEST(ClientSession, SizeOverServerLimitIsRefusedLocally) {
  TestMessage big = message("a@example.org", {"b@example.test", "c@example.test"});
  big.envelope.size = 5000;
  auto run = expect_dialogue(R"(
    S: 220 mx
    C: EHLO client.example.test
    S: 250-mx
    S: 250-PIPELINING
    S: 250 SIZE 1000
    C: MAIL FROM:<a@example.org> SIZE=18
    C: RCPT TO:<b@example.test>
    C: DATA
    S: 250 ok
    S: 250 ok
    S: 354 go
    C: Subject: t
    C:
    C: hi
    C: .
    S: 250 ok
    C: QUIT
    S: 221 bye
  )",
                             with({big, message("a@example.org", {"b@example.test"})}));
  ASSERT_EQ(run.results.size(), 2u);
  EXPECT_EQ(describe(run.results[0]),
            "b@example.test permanent 552 5.3.4 local; c@example.test permanent 552 5.3.4 local");
  EXPECT_FALSE(run.results[0].body_sent);
  EXPECT_EQ(describe(run.results[1]), "b@example.test delivered 250");
}

TEST(ClientSession, SizeZeroMeansNoLimit) {
  TestMessage big = message("a@example.org", {"b@example.test"});
  big.envelope.size = 999999999;
  auto run = expect_dialogue(R"(
    S: 220 mx
    C: EHLO client.example.test
    S: 250-mx
    S: 250 SIZE 0
    C: MAIL FROM:<a@example.org> SIZE=999999999
    S: 552 5.3.4 too big after all
    C: QUIT
    S: 221 bye
  )",
                             with({big}));
  EXPECT_EQ(describe(run.results.at(0)), "b@example.test permanent 552 5.3.4");
}

TEST(ClientSession, Smtputf8NeededButNotOffered) {
  TestMessage flagged = message("a@example.org", {"b@example.test"});
  flagged.envelope.needs_smtputf8 = true;
  TestMessage utf8_address = message("a@example.org", {"j\xc3\xb6rg@example.test"});
  auto run = expect_dialogue(R"(
    S: 220 mx
    C: EHLO client.example.test
    S: 250-mx
    S: 250 8BITMIME
    C: QUIT
    S: 221 bye
  )",
                             with({flagged, utf8_address}));
  ASSERT_EQ(run.results.size(), 2u);
  EXPECT_EQ(describe(run.results[0]), "b@example.test permanent 553 5.6.7 local");
  EXPECT_EQ(describe(run.results[1]), "j\xc3\xb6rg@example.test permanent 553 5.6.7 local");
}

TEST(ClientSession, Smtputf8SentWhenOffered) {
  auto run = expect_dialogue(R"(
    S: 220 mx
    C: EHLO client.example.test
    S: 250-mx
    S: 250-SMTPUTF8
    S: 250 PIPELINING
    C: MAIL FROM:<a@example.org> SMTPUTF8
    C: RCPT TO:<jörg@example.test>
    C: DATA
    S: 250 ok
    S: 250 ok
    S: 354 go
    C: Subject: t
    C:
    C: hi
    C: .
    S: 250 ok
    C: QUIT
    S: 221 bye
  )",
                             with({message("a@example.org", {"jörg@example.test"})}));
  EXPECT_EQ(describe(run.results.at(0)), "jörg@example.test delivered 250");
}

TEST(ClientSession, ControlCharactersInAddressesAreNeverSent) {
  auto run = expect_dialogue(R"(
    S: 220 mx
    C: EHLO client.example.test
    S: 250 mx
    C: MAIL FROM:<a@example.org>
    S: 250 ok
    C: RCPT TO:<ok@example.test>
    S: 250 ok
    C: DATA
    S: 354 go
    C: Subject: t
    C:
    C: hi
    C: .
    S: 250 ok
    C: QUIT
    S: 221 bye
  )",
                             with({message("a@example.org\r\nRSET", {"b@example.test"}),
                                   message("a@example.org", {"x@y\r\nDATA", "ok@example.test"})}));
  ASSERT_EQ(run.results.size(), 2u);
  EXPECT_EQ(describe(run.results[0]), "b@example.test permanent 501 5.1.7 local");
  EXPECT_EQ(describe(run.results[1]), "x@y\r\nDATA permanent 501 5.1.3 local; ok@example.test delivered 250");
}

TEST(ClientSession, NoRecipientsGivesAnEmptyResult) {
  auto run = expect_dialogue("S: 220 mx\nC: EHLO client.example.test\nS: 250 mx\nC: QUIT\nS: 221 bye\n",
                             with({message("a@example.org", {})}));
  ASSERT_EQ(run.results.size(), 1u);
  EXPECT_TRUE(run.results[0].recipients.empty());
}

// --- end of data ---------------------------------------------------------------

TEST(ClientSession, RejectionAfterDataAppliesToAcceptedRecipients) {
  auto run = expect_dialogue(R"(
    S: 220 mx
    C: EHLO client.example.test
    S: 250-mx
    S: 250 PIPELINING
    C: MAIL FROM:<a@example.org>
    C: RCPT TO:<b@example.test>
    C: RCPT TO:<c@example.test>
    C: RCPT TO:<d@example.test>
    C: DATA
    S: 250 ok
    S: 250 ok
    S: 550 5.1.1 unknown
    S: 250 ok
    S: 354 go
    C: Subject: t
    C:
    C: hi
    C: .
    S: 554 5.7.1 Message rejected as spam
    C: QUIT
    S: 221 bye
  )",
                             with({message("a@example.org", {"b@example.test", "c@example.test", "d@example.test"})}));
  EXPECT_EQ(describe(run.results.at(0)),
            "b@example.test permanent 554 5.7.1; c@example.test permanent 550 5.1.1; d@example.test permanent 554 "
            "5.7.1");
  EXPECT_TRUE(run.results[0].body_sent);
}

TEST(ClientSession, DataCommandRefused) {
  auto run = expect_dialogue(R"(
    S: 220 mx
    C: EHLO client.example.test
    S: 250 mx
    C: MAIL FROM:<a@example.org>
    S: 250 ok
    C: RCPT TO:<b@example.test>
    S: 250 ok
    C: DATA
    S: 451 4.3.0 local problem
    C: RSET
    S: 250 ok
    C: MAIL FROM:<a@example.org>
    S: 250 ok
    C: RCPT TO:<b@example.test>
    S: 250 ok
    C: DATA
    S: 354 go
    C: Subject: t
    C:
    C: hi
    C: .
    S: 250 ok
    C: QUIT
    S: 221 bye
  )",
                             with({message("a@example.org", {"b@example.test"}),
                                   message("a@example.org", {"b@example.test"})}));
  ASSERT_EQ(run.results.size(), 2u);
  EXPECT_EQ(describe(run.results[0]), "b@example.test temporary 451 4.3.0");
  EXPECT_EQ(describe(run.results[1]), "b@example.test delivered 250");
}

// --- several messages on one connection ---------------------------------------

TEST(ClientSession, MultiMessageReuseWithRsetOnlyWhenNeeded) {
  // 1: delivered (no RSET after). 2: every RCPT refused, so no DATA and the
  // MAIL transaction stays open: RSET before 3.
  auto run = expect_dialogue(R"(
    S: 220 mx
    C: EHLO client.example.test
    S: 250 mx
    C: MAIL FROM:<a@example.org>
    S: 250 ok
    C: RCPT TO:<b@example.test>
    S: 250 ok
    C: DATA
    S: 354 go
    C: one
    C: .
    S: 250 ok 1
    C: MAIL FROM:<a@example.org>
    S: 250 ok
    C: RCPT TO:<x@example.test>
    S: 550 5.1.1 unknown
    C: RSET
    S: 250 2.0.0 ok
    C: MAIL FROM:<a@example.org>
    S: 250 ok
    C: RCPT TO:<c@example.test>
    S: 250 ok
    C: DATA
    S: 354 go
    C: three
    C: .
    S: 250 ok 3
    C: QUIT
    S: 221 bye
  )",
                             with({message("a@example.org", {"b@example.test"}, "one\r\n"),
                                   message("a@example.org", {"x@example.test"}, "two\r\n"),
                                   message("a@example.org", {"c@example.test"}, "three")}));
  ASSERT_EQ(run.results.size(), 3u);
  EXPECT_EQ(describe(run.results[0]), "b@example.test delivered 250");
  EXPECT_EQ(describe(run.results[1]), "x@example.test permanent 550 5.1.1");
  EXPECT_EQ(describe(run.results[2]), "c@example.test delivered 250");
}

TEST(ClientSession, RsetRefusedEndsTheConnection) {
  auto run = expect_dialogue(R"(
    S: 220 mx
    C: EHLO client.example.test
    S: 250 mx
    C: MAIL FROM:<a@example.org>
    S: 250 ok
    C: RCPT TO:<x@example.test>
    S: 550 5.1.1 unknown
    C: RSET
    S: 500 what
    C: QUIT
  )",
                             with({message("a@example.org", {"x@example.test"}),
                                   message("a@example.org", {"c@example.test"})}));
  ASSERT_EQ(run.results.size(), 2u);
  EXPECT_EQ(describe(run.results[1]), "c@example.test temporary 500");
  EXPECT_EQ(describe(run.failure), "transaction temporary 500");
}

// --- connection problems -------------------------------------------------------

TEST(ClientSession, ConnectionLostMidTransactionDefersTheRest) {
  auto run = expect_dialogue(R"(
    S: 220 mx
    C: EHLO client.example.test
    S: 250-mx
    S: 250 PIPELINING
    C: MAIL FROM:<a@example.org>
    C: RCPT TO:<b@example.test>
    C: RCPT TO:<c@example.test>
    C: DATA
    S: 250 ok
    S: 550 5.1.1 unknown
    E: close
  )",
                             with({message("a@example.org", {"b@example.test", "c@example.test"})}));
  EXPECT_EQ(describe(run.results.at(0)), "b@example.test permanent 550 5.1.1; c@example.test temporary 451 4.4.2 local");
  EXPECT_EQ(describe(run.failure), "transaction temporary");
  EXPECT_EQ(run.final_action, ClientAction::close);
}

TEST(ClientSession, TimeoutAfterTheDotDefers) {
  auto run = expect_dialogue(R"(
    S: 220 mx
    C: EHLO client.example.test
    S: 250 mx
    C: MAIL FROM:<a@example.org>
    S: 250 ok
    C: RCPT TO:<b@example.test>
    S: 250 ok
    C: DATA
    S: 354 go
    C: Subject: t
    C:
    C: hi
    C: .
    E: timeout
  )",
                             with({message("a@example.org", {"b@example.test"})}));
  EXPECT_EQ(describe(run.results.at(0)), "b@example.test temporary 451 4.4.2 local");
  EXPECT_TRUE(run.results[0].body_sent);
  EXPECT_EQ(describe(run.failure), "transaction temporary");
}

TEST(ClientSession, Reply421MidGroupEndsEverything) {
  auto run = expect_dialogue(R"(
    S: 220 mx
    C: EHLO client.example.test
    S: 250-mx
    S: 250 PIPELINING
    C: MAIL FROM:<a@example.org>
    C: RCPT TO:<b@example.test>
    C: RCPT TO:<c@example.test>
    C: DATA
    S: 250 ok
    S: 250 ok
    S: 421 4.7.0 too many errors, closing
  )",
                             with({message("a@example.org", {"b@example.test", "c@example.test"})}));
  EXPECT_EQ(describe(run.results.at(0)), "b@example.test temporary 421 4.7.0; c@example.test temporary 421 4.7.0");
  EXPECT_EQ(describe(run.failure), "transaction temporary 421");
}

TEST(ClientSession, UnsolicitedReplyWhileIdle) {
  Options o = with({});
  o.quit_at_end = false;
  auto run = expect_dialogue(R"(
    S: 220 mx
    C: EHLO client.example.test
    S: 250 mx
    S: 421 4.4.2 idle too long
  )",
                             o);
  EXPECT_EQ(describe(run.failure), "transaction temporary 421");
}

TEST(ClientSession, MalformedReplyIsAProtocolFailure) {
  auto run = expect_dialogue("S: 220 mx\nC: EHLO client.example.test\nS: 250-mx\nS: 220 mixed\n",
                             with({message("a@example.org", {"b@example.test"})}));
  ASSERT_TRUE(run.failure);
  EXPECT_EQ(describe(run.failure), "helo temporary");
  EXPECT_NE(run.failure->detail.find("malformed"), std::string::npos);
  auto garbage = expect_dialogue("S: HTTP/1.1 400 Bad Request\n", with({}));
  EXPECT_EQ(describe(garbage.failure), "greeting temporary");
}

TEST(ClientSession, ServerClosingAfterQuitIsNormal) {
  auto run = expect_dialogue("S: 220 mx\nC: EHLO client.example.test\nS: 250 mx\nC: QUIT\nE: close\n", with({}));
  EXPECT_EQ(run.failure, std::nullopt);
  EXPECT_EQ(run.final_action, ClientAction::close);
  auto garbled = expect_dialogue("S: 220 mx\nC: EHLO client.example.test\nS: 250 mx\nC: QUIT\nS: bye!\n", with({}));
  EXPECT_EQ(garbled.failure, std::nullopt);
  EXPECT_EQ(garbled.final_action, ClientAction::close);
}

// --- timeouts (RFC 5321 §4.5.3.2) ---------------------------------------------

TEST(ClientSession, TimeoutsFollowRfc5321) {
  using std::chrono::seconds;
  ClientSession s(settings_for("client.example.test"));
  EXPECT_EQ(s.timeout_for_current_state(), seconds{300});  // initial 220
  s.feed("220 mx\r\n");
  EXPECT_EQ(s.timeout_for_current_state(), seconds{300});  // EHLO
  s.feed("250 mx\r\n");
  EXPECT_EQ(s.action(), ClientAction::ready);
  EXPECT_EQ(s.timeout_for_current_state(), seconds{0});
  s.send_message(message("a@example.org", {"b@example.test"}).envelope);
  EXPECT_EQ(s.timeout_for_current_state(), seconds{300});  // MAIL
  s.feed("250 ok\r\n");
  EXPECT_EQ(s.timeout_for_current_state(), seconds{300});  // RCPT
  s.feed("250 ok\r\n");
  EXPECT_EQ(s.timeout_for_current_state(), seconds{120});  // DATA initiation
  s.feed("354 go\r\n");
  EXPECT_EQ(s.action(), ClientAction::send_body);
  EXPECT_EQ(s.timeout_for_current_state(), seconds{180});  // data block
  s.send_body_chunk("x\r\n");
  s.end_body();
  EXPECT_EQ(s.timeout_for_current_state(), seconds{600});  // DATA termination
  s.feed("250 ok\r\n");
  EXPECT_EQ(s.timeout_for_current_state(), seconds{0});
  s.quit();
  EXPECT_EQ(s.timeout_for_current_state(), seconds{300});
  s.on_timeout();  // no 221 in time: we were leaving anyway
  EXPECT_EQ(s.action(), ClientAction::close);
  EXPECT_EQ(s.failure(), std::nullopt);
  EXPECT_EQ(s.timeout_for_current_state(), seconds{0});
}

TEST(ClientSession, FeedAfterCloseIsIgnored) {
  ClientSession s(settings_for("client.example.test"));
  s.feed("554 no\r\n");
  s.clear_output();
  s.feed("220 now ok\r\n250 mx\r\n");
  EXPECT_EQ(s.output(), "");
  EXPECT_EQ(s.action(), ClientAction::close);
}

}  // namespace
}  // namespace tern::smtp
