// LocalDelivery: a message copied into a Maildir with Return-Path: and
// Delivered-To: in front, from a spooled file or from memory (under a stable
// name, so a replay after a crash finds a copy that already arrived).
#include "services/local_delivery.hpp"

#include <gtest/gtest.h>

#include "base/queue_id.hpp"
#include "tests/unit/services/test_config.hpp"

namespace tern {
namespace {

using testing::files_in;
using testing::read_file;

class LocalDeliveryTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(spool.prepare()); }

  QueueEntry queue(std::string_view sender, std::string_view message) {
    QueueEnvelope e;
    e.id = make_queue_id();
    e.arrival = 1700000000;
    e.sender = std::string(sender);
    e.recipients = {{"demo@example.test", "demo@example.test"}, {"alice@example.test", "alice@example.test"}};
    testing::write_file(spool.active_path(e.id), serialize_envelope(e) + std::string(message));
    auto entry = spool.read(e.id);
    EXPECT_TRUE(entry);
    return *entry;
  }

  std::filesystem::path new_dir(const std::string& user) {
    return config->mail_dir() / "example.test" / user / "Maildir" / "new";
  }

  testing::TempDir dir;
  std::shared_ptr<const Config> config = testing::make_test_config(dir);
  Spool spool{config->queue_dir()};
  LocalDelivery local{config->mail_dir(), config->hostname, spool};
};

TEST_F(LocalDeliveryTest, CopiesWithReturnPathAndDeliveredTo) {
  std::string message = "Received: from x\r\n\tby mx;\r\n\tdate\r\nSubject: hi\r\n\r\nbody\r\n";
  QueueEntry entry = queue("sender@client.example", message);
  ASSERT_TRUE(local.deliver(entry, "demo@example.test"));
  ASSERT_TRUE(local.deliver(entry, "alice@example.test"));
  for (const char* user : {"demo", "alice"}) {
    auto files = files_in(new_dir(user));
    ASSERT_EQ(files.size(), 1u) << user;
    EXPECT_EQ(read_file(files[0]), "Return-Path: <sender@client.example>\r\nDelivered-To: " + std::string(user) +
                                       "@example.test\r\n" + message);
  }
  // The queue file is untouched: the queue manager removes it when all are done.
  EXPECT_TRUE(std::filesystem::exists(spool.active_path(entry.envelope.id)));
}

TEST_F(LocalDeliveryTest, LargeMessageIsCopiedWhole) {
  std::string message = "Subject: big\r\n\r\n";
  for (int i = 0; i < 20000; ++i) message += "line " + std::to_string(i) + " of a large message body\r\n";
  QueueEntry entry = queue("", message);
  ASSERT_TRUE(local.deliver(entry, "demo@example.test"));
  auto files = files_in(new_dir("demo"));
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(read_file(files[0]), "Return-Path: <>\r\nDelivered-To: demo@example.test\r\n" + message);
}

TEST_F(LocalDeliveryTest, MissingQueueFileFailsWithoutLeavingAPartialMessage) {
  QueueEntry entry = queue("a@b.example", "x\r\n");
  ASSERT_TRUE(spool.remove(entry.envelope.id));
  auto r = local.deliver(entry, "demo@example.test");
  ASSERT_FALSE(r);
  EXPECT_FALSE(r.error().permanent());
  EXPECT_TRUE(files_in(new_dir("demo")).empty());
  EXPECT_TRUE(files_in(new_dir("demo").parent_path() / "tmp").empty());
}

TEST_F(LocalDeliveryTest, ShortQueueFileIsAnError) {
  QueueEntry entry = queue("a@b.example", "x\r\n");
  entry.message_size += 100;  // the file is shorter than recorded
  auto r = local.deliver(entry, "demo@example.test");
  EXPECT_FALSE(r);
  EXPECT_TRUE(files_in(new_dir("demo")).empty());
}

TEST_F(LocalDeliveryTest, DeliverBytesUsesAStableName) {
  QueueEnvelope env;
  env.id = "0123456789ABCDEF";
  env.arrival = 1700000000;
  env.sender = "a@b.example";
  std::string name = local.stable_name(env, 1);
  EXPECT_EQ(name, "1700000000.T0123456789ABCDEF_1.mx.example.test");
  EXPECT_NE(local.stable_name(env, 0), name);  // one name per recipient index

  auto r = local.deliver_bytes(env, "Subject: m\r\n\r\nbody\r\n", "demo@example.test", 1, false);
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_TRUE(*r);
  EXPECT_EQ(read_file(new_dir("demo") / name),
            "Return-Path: <a@b.example>\r\nDelivered-To: demo@example.test\r\nSubject: m\r\n\r\nbody\r\n");
  EXPECT_TRUE(files_in(new_dir("demo").parent_path() / "tmp").empty());
}

// Replaying the commit log after a crash: a copy already in new/, or already
// seen by a client and moved to cur/ with flags, is not delivered again.
TEST_F(LocalDeliveryTest, ReplayFindsCopiesThatAlreadyArrived) {
  QueueEnvelope env;
  env.id = "0123456789ABCDEF";
  env.arrival = 1700000000;
  ASSERT_TRUE(local.deliver_bytes(env, "m\r\n", "demo@example.test", 0, false));
  auto again = local.deliver_bytes(env, "m\r\n", "demo@example.test", 0, true);
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again);
  EXPECT_EQ(files_in(new_dir("demo")).size(), 1u);

  auto maildir = new_dir("demo").parent_path();
  std::filesystem::rename(maildir / "new" / local.stable_name(env, 0),
                          maildir / "cur" / (local.stable_name(env, 0) + ":2,S"));
  again = local.deliver_bytes(env, "m\r\n", "demo@example.test", 0, true);
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again);
  EXPECT_TRUE(files_in(maildir / "new").empty());

  // Another recipient index of the same message is a different copy.
  auto other = local.deliver_bytes(env, "m\r\n", "demo@example.test", 1, true);
  ASSERT_TRUE(other);
  EXPECT_TRUE(*other);
}

TEST_F(LocalDeliveryTest, DeliverBytesFailsCleanlyWhenTheTreeIsBlocked) {
  std::filesystem::create_directories(config->mail_dir() / "example.test");
  testing::write_file(config->mail_dir() / "example.test" / "alice", "in the way");
  QueueEnvelope env;
  env.id = "0123456789ABCDEF";
  auto r = local.deliver_bytes(env, "m\r\n", "alice@example.test", 0, true);
  ASSERT_FALSE(r);
  EXPECT_FALSE(r.error().permanent());
}

}  // namespace
}  // namespace tern
