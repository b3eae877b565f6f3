// MessageIntake, the session's services for incoming mail: recipient policy,
// and where a message goes. A small message stays in memory and is made
// durable through the group commit log; one that grows past memory_limit
// spills to a file — straight into the Maildir when it has exactly one local
// mailbox, else into the spool's incoming/, renamed into active/ on commit.
#include "services/message_intake.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>

#include "tests/unit/services/test_config.hpp"
#include "tests/unit/support/wait.hpp"

namespace tern {
namespace {

using testing::files_in;
using testing::read_file;
using testing::wait_until;

MailAddress addr(std::string_view s) { return *parse_mailbox(s); }

class MessageIntakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(spool.prepare());
    ASSERT_TRUE(log.open());
  }

  // memory_limit 0: every message spills to a file at its first write.
  MessageIntake make_intake(std::size_t memory_limit = 0) {
    IntakeContext ctx;
    ctx.config = config;
    ctx.directory = directory;
    ctx.spool = &spool;
    ctx.log = &log;
    ctx.on_spooled = [this](const std::string& id) {
      std::lock_guard lock(mu);
      spooled.push_back(id);
    };
    ctx.on_logged = [this](MemoryMessage m) {
      std::lock_guard lock(mu);
      logged.push_back(std::move(m));
    };
    ctx.memory_limit = memory_limit;
    return MessageIntake(std::move(ctx));
  }

  smtp::Envelope envelope(std::initializer_list<std::string_view> rcpts) {
    smtp::Envelope e;
    e.client_ip = "192.0.2.1";
    e.helo = "client.example";
    e.esmtp = true;
    e.mail_from = addr("sender@client.example");
    for (auto r : rcpts) e.recipients.push_back(addr(r));
    return e;
  }

  std::filesystem::path maildir(const std::string& user) {
    return config->mail_dir() / "example.test" / user / "Maildir";
  }

  testing::TempDir dir;
  std::shared_ptr<const Config> config = testing::make_test_config(dir);
  std::shared_ptr<const RecipientDirectory> directory = std::make_shared<RecipientDirectory>(*config);
  Spool spool{config->queue_dir()};
  CommitLog log{dir / "log"};
  std::mutex mu;
  std::vector<std::string> spooled;
  std::vector<MemoryMessage> logged;
};

TEST_F(MessageIntakeTest, RecipientPolicy) {
  auto intake = make_intake();
  auto env = envelope({});
  using smtp::RecipientVerdict;
  EXPECT_EQ(intake.check_recipient(env, addr("demo@example.test")), RecipientVerdict::accept);
  EXPECT_EQ(intake.check_recipient(env, addr("Info@EXAMPLE.test")), RecipientVerdict::accept);
  EXPECT_EQ(intake.check_recipient(env, addr("postmaster@example.test")), RecipientVerdict::accept);
  EXPECT_EQ(intake.check_recipient(env, MailAddress{"postmaster", ""}), RecipientVerdict::accept);
  EXPECT_EQ(intake.check_recipient(env, addr("nobody@example.test")), RecipientVerdict::unknown_user);
  EXPECT_EQ(intake.check_recipient(env, MailAddress{"root", ""}), RecipientVerdict::unknown_user);
  // No open relay, ever.
  EXPECT_EQ(intake.check_recipient(env, addr("someone@elsewhere.example")), RecipientVerdict::relay_denied);
}

// Relaying only for clients in trusted_networks (like Postfix's mynetworks).
TEST_F(MessageIntakeTest, TrustedNetworksMayRelay) {
  auto cfg = std::make_shared<Config>(*config);
  cfg->smtp.trusted_networks = {*IpNetwork::parse("127.0.0.0/8"), *IpNetwork::parse("2001:db8::/32")};
  config = cfg;
  auto intake = make_intake();
  auto env = envelope({});
  using smtp::RecipientVerdict;
  for (const char* ip : {"127.0.0.1", "::ffff:127.0.0.2", "2001:db8::25"}) {
    env.client_ip = ip;
    EXPECT_EQ(intake.check_recipient(env, addr("someone@elsewhere.example")), RecipientVerdict::accept) << ip;
    // Trust does not invent local users.
    EXPECT_EQ(intake.check_recipient(env, addr("nobody@example.test")), RecipientVerdict::unknown_user) << ip;
  }
  for (const char* ip : {"192.0.2.1", "2001:db9::1", "", "not an address"}) {
    env.client_ip = ip;
    EXPECT_EQ(intake.check_recipient(env, addr("someone@elsewhere.example")), RecipientVerdict::relay_denied) << ip;
  }
}

TEST_F(MessageIntakeTest, OneLocalRecipientGoesStraightToTheMaildir) {
  auto intake = make_intake();
  auto id = intake.open_message(envelope({"demo@example.test"}));
  ASSERT_TRUE(id) << id.error().detail;
  EXPECT_EQ(intake.mailboxes(), std::vector<std::string>{"demo@example.test"});
  intake.write_message("Received: by test\r\n");
  intake.write_message("Subject: hi\r\n\r\nbody\r\n");
  EXPECT_TRUE(intake.delivered_directly());
  EXPECT_TRUE(intake.commit_blocks());
  EXPECT_TRUE(files_in(maildir("demo") / "new").empty());  // not before commit
  ASSERT_TRUE(intake.commit());
  auto delivered = files_in(maildir("demo") / "new");
  ASSERT_EQ(delivered.size(), 1u);
  EXPECT_EQ(read_file(delivered[0]),
            "Return-Path: <sender@client.example>\r\nDelivered-To: demo@example.test\r\n"
            "Received: by test\r\nSubject: hi\r\n\r\nbody\r\n");
  EXPECT_TRUE(files_in(maildir("demo") / "tmp").empty());
  EXPECT_TRUE(spool.list().empty());
  EXPECT_TRUE(spooled.empty());  // nothing left for the queue manager
}

// An alias and its user are one mailbox: still the direct path, one copy.
TEST_F(MessageIntakeTest, AliasOfTheSameMailboxIsStillDirect) {
  auto intake = make_intake();
  ASSERT_TRUE(intake.open_message(envelope({"demo@example.test", "postmaster@example.test", "info@example.test"})));
  EXPECT_EQ(intake.mailboxes(), std::vector<std::string>{"demo@example.test"});
  intake.write_message("x\r\n");
  EXPECT_TRUE(intake.delivered_directly());
  ASSERT_TRUE(intake.commit());
  EXPECT_EQ(files_in(maildir("demo") / "new").size(), 1u);
}

TEST_F(MessageIntakeTest, TwoMailboxesGoToTheSpool) {
  auto intake = make_intake();
  auto id = intake.open_message(envelope({"demo@example.test", "alice@example.test"}));
  ASSERT_TRUE(id);
  EXPECT_EQ(intake.mailboxes(), (std::vector<std::string>{"demo@example.test", "alice@example.test"}));
  intake.write_message("Subject: two\r\n\r\nbody\r\n");
  EXPECT_FALSE(intake.delivered_directly());
  // Written under incoming/ until durable; active/ holds only acknowledged mail.
  EXPECT_TRUE(std::filesystem::exists(spool.incoming_path(*id)));
  EXPECT_TRUE(spool.list().empty());
  ASSERT_TRUE(intake.commit());
  EXPECT_EQ(spool.list(), std::vector<std::string>{*id});
  EXPECT_FALSE(std::filesystem::exists(spool.incoming_path(*id)));
  EXPECT_EQ(spooled, std::vector<std::string>{*id});
  auto entry = spool.read(*id);
  ASSERT_TRUE(entry) << entry.error().detail;
  EXPECT_EQ(entry->envelope.sender, "sender@client.example");
  EXPECT_EQ(entry->envelope.helo, "client.example");
  ASSERT_EQ(entry->envelope.recipients.size(), 2u);
  EXPECT_EQ(entry->envelope.recipients[1].mailbox, "alice@example.test");
  EXPECT_EQ(read_file(spool.active_path(*id)).substr(entry->message_offset), "Subject: two\r\n\r\nbody\r\n");
  EXPECT_TRUE(files_in(maildir("demo") / "new").empty());  // the queue manager delivers later
}

// The common case: a small message stays in memory and is made durable by
// the commit log (no file of its own), then handed to the queue manager.
TEST_F(MessageIntakeTest, SmallMessageIsCommittedThroughTheLog) {
  auto intake = make_intake(64 * 1024);
  auto id = intake.open_message(envelope({"demo@example.test", "alice@example.test"}));
  ASSERT_TRUE(id);
  intake.write_message("Received: by test\r\n");
  intake.write_message("Subject: small\r\n\r\nbody\r\n");
  EXPECT_FALSE(intake.commit_blocks());
  EXPECT_FALSE(intake.delivered_directly());
  std::atomic<int> done{0};
  intake.commit_async([&](Result<void> r) { done = r ? 1 : -1; });
  ASSERT_TRUE(wait_until([&] { return done != 0; }));
  EXPECT_EQ(done, 1);
  std::lock_guard lock(mu);
  ASSERT_EQ(logged.size(), 1u);
  const MemoryMessage& m = logged[0];
  EXPECT_EQ(m.envelope.id, *id);
  ASSERT_EQ(m.envelope.recipients.size(), 2u);
  EXPECT_EQ(m.envelope.recipients[0].mailbox, "demo@example.test");
  EXPECT_EQ(m.message(), "Received: by test\r\nSubject: small\r\n\r\nbody\r\n");
  EXPECT_GT(m.log_segment, 0u);
  // Nothing in a Maildir or the spool yet: the record in the log is the only copy.
  EXPECT_TRUE(files_in(maildir("demo") / "new").empty());
  EXPECT_TRUE(spool.list().empty());
  EXPECT_TRUE(files_in(config->queue_dir() / "incoming").empty());
  // The record on disk is the envelope and the message.
  std::vector<std::string> records;
  for (const auto& seg : files_in(dir / "log"))
    ASSERT_TRUE(CommitLog::read_segment(seg, [&](std::string_view p) { records.emplace_back(p); }));
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0], *m.payload);
  EXPECT_TRUE(records[0].ends_with("\n\nReceived: by test\r\nSubject: small\r\n\r\nbody\r\n"));
}

// A message that outgrows memory_limit moves to a file with nothing lost.
TEST_F(MessageIntakeTest, GrowingMessageSpillsWhole) {
  auto intake = make_intake(1000);  // the envelope text counts too
  ASSERT_TRUE(intake.open_message(envelope({"demo@example.test"})));
  std::string message;
  for (int i = 0; i < 40; ++i) {
    std::string piece = "line " + std::to_string(i) + " of a message that gets too big\r\n";
    intake.write_message(piece);
    message += piece;
    if (i == 0) {
      EXPECT_FALSE(intake.commit_blocks());
    }
  }
  EXPECT_TRUE(intake.commit_blocks());
  EXPECT_TRUE(intake.delivered_directly());
  ASSERT_TRUE(intake.commit());
  auto delivered = files_in(maildir("demo") / "new");
  ASSERT_EQ(delivered.size(), 1u);
  EXPECT_EQ(read_file(delivered[0]),
            "Return-Path: <sender@client.example>\r\nDelivered-To: demo@example.test\r\n" + message);
}

TEST_F(MessageIntakeTest, DiscardLeavesNothingOnEitherPath) {
  auto intake = make_intake();
  ASSERT_TRUE(intake.open_message(envelope({"demo@example.test"})));
  intake.write_message("abandoned");
  intake.discard_message();
  EXPECT_TRUE(files_in(maildir("demo") / "tmp").empty());
  EXPECT_TRUE(files_in(maildir("demo") / "new").empty());

  auto id = intake.open_message(envelope({"demo@example.test", "bob@example.test"}));
  ASSERT_TRUE(id);
  intake.write_message("abandoned");
  intake.discard_message();
  EXPECT_TRUE(files_in(config->queue_dir() / "incoming").empty());
  EXPECT_TRUE(spool.list().empty());
  EXPECT_FALSE(intake.commit());  // nothing open
  EXPECT_TRUE(spooled.empty());
}

// A second message on the same connection: open_message drops anything left.
TEST_F(MessageIntakeTest, ReopenDropsTheUnfinishedMessage) {
  auto intake = make_intake();
  auto first = intake.open_message(envelope({"demo@example.test", "bob@example.test"}));
  ASSERT_TRUE(first);
  intake.write_message("first");
  auto second = intake.open_message(envelope({"demo@example.test", "bob@example.test"}));
  ASSERT_TRUE(second);
  EXPECT_NE(*first, *second);
  EXPECT_FALSE(std::filesystem::exists(spool.incoming_path(*first)));
  intake.write_message("second\r\n");
  ASSERT_TRUE(intake.commit());
  EXPECT_EQ(spool.list(), std::vector<std::string>{*second});
}

TEST_F(MessageIntakeTest, NullSenderAndBarePostmaster) {
  auto intake = make_intake();
  smtp::Envelope env = envelope({});
  env.mail_from = MailAddress{};
  env.recipients.push_back(MailAddress{"postmaster", ""});
  ASSERT_TRUE(intake.open_message(env));
  intake.write_message("bounce\r\n");
  EXPECT_TRUE(intake.delivered_directly());
  ASSERT_TRUE(intake.commit());
  auto delivered = files_in(maildir("demo") / "new");
  ASSERT_EQ(delivered.size(), 1u);
  EXPECT_TRUE(read_file(delivered[0]).starts_with("Return-Path: <>\r\nDelivered-To: demo@example.test\r\n"));
}

// The mailbox cannot be created (a file is in the way): the commit fails with
// a temporary error that shows the client no path, and nothing is delivered.
TEST_F(MessageIntakeTest, SpillFailureIsATemporaryCommitError) {
  std::filesystem::create_directories(config->mail_dir() / "example.test");
  testing::write_file(config->mail_dir() / "example.test" / "demo", "in the way");
  auto intake = make_intake();
  ASSERT_TRUE(intake.open_message(envelope({"demo@example.test"})));
  intake.write_message("x\r\n");
  EXPECT_TRUE(intake.commit_blocks());
  auto r = intake.commit();
  ASSERT_FALSE(r);
  EXPECT_FALSE(r.error().permanent());
  EXPECT_EQ(r.error().client_text.find(dir.path().string()), std::string::npos);
  EXPECT_TRUE(spool.list().empty());
}

}  // namespace
}  // namespace tern
