// QueueManager with local mailboxes: spooled messages are delivered to every
// mailbox and leave the spool; messages handed over in memory are delivered
// under stable names and their log records released; at start, what an
// earlier run left (active/ files, log segments) is resumed; a failing
// delivery stays queued with its progress and is retried.
#include "services/queue_manager.hpp"

#include <atomic>

#include "tests/unit/services/queue_fixture.hpp"

namespace tern {
namespace {

using testing::files_in;
using testing::read_file;
using testing::wait_until;

class QueueManagerTest : public testing::QueueFixture {};

TEST_F(QueueManagerTest, DeliversASpooledMessageToTwoMailboxesAndRemovesIt) {
  QueueManager qm(settings(), spool, local, log, resolver());
  qm.start();
  std::string id = spool_message({rcpt("demo@example.test"), rcpt("alice@example.test")});
  qm.enqueue(id);
  ASSERT_TRUE(wait_until([&] { return qm.deliveries() == 1; }));
  qm.stop();
  for (const char* user : {"demo", "alice"}) {
    auto files = files_in(new_dir(user));
    ASSERT_EQ(files.size(), 1u) << user;
    EXPECT_EQ(read_file(files[0]), expected_copy(user));
  }
  EXPECT_TRUE(spool.list().empty());
  EXPECT_FALSE(std::filesystem::exists(spool.status_path(id)));
}

// A restart resumes everything in active/; leftovers in incoming/ were never
// acknowledged and are removed, never delivered.
TEST_F(QueueManagerTest, ResumesMessagesLeftInActiveAtStart) {
  spool_message({rcpt("demo@example.test")});
  spool_message({rcpt("alice@example.test"), rcpt("bob@example.test")});
  testing::write_file(spool.incoming_path(make_queue_id()), "half-received");
  QueueManager qm(settings(), spool, local, log, resolver());
  qm.start();
  ASSERT_TRUE(wait_until([&] { return qm.deliveries() == 2; }));
  qm.stop();
  EXPECT_EQ(files_in(new_dir("demo")).size(), 1u);
  EXPECT_EQ(files_in(new_dir("alice")).size(), 1u);
  EXPECT_EQ(files_in(new_dir("bob")).size(), 1u);
  EXPECT_TRUE(spool.list().empty());
  EXPECT_TRUE(files_in(config->queue_dir() / "incoming").empty());
}

// After a crash mid-message the status log says who already has it: only the
// rest are delivered.
TEST_F(QueueManagerTest, ResumeSkipsRecipientsAlreadyDelivered) {
  std::string id = spool_message({rcpt("demo@example.test"), rcpt("alice@example.test")});
  ASSERT_TRUE(spool.record(id, 0, RecipientState{RecipientStatus::delivered, 1, 0, ""}));
  QueueManager qm(settings(), spool, local, log, resolver());
  qm.start();
  ASSERT_TRUE(wait_until([&] { return qm.deliveries() == 1; }));
  qm.stop();
  EXPECT_TRUE(files_in(new_dir("demo")).empty());
  EXPECT_EQ(files_in(new_dir("alice")).size(), 1u);
  EXPECT_TRUE(spool.list().empty());
}

// Two addresses of one mailbox (user and alias) get one copy.
TEST_F(QueueManagerTest, OneCopyPerMailbox) {
  QueueManager qm(settings(), spool, local, log, resolver());
  qm.start();
  qm.enqueue(spool_message({rcpt("demo@example.test"), rcpt("postmaster@example.test"), rcpt("alice@example.test")}));
  qm.deliver(memory_message({rcpt("demo@example.test"), rcpt("info@example.test")}));
  ASSERT_TRUE(wait_until([&] { return qm.deliveries() == 2; }));
  qm.stop();
  EXPECT_EQ(files_in(new_dir("demo")).size(), 2u);  // one per message
  EXPECT_EQ(files_in(new_dir("alice")).size(), 1u);
}

// A delivery that fails (a file where alice's mail tree should be) is
// deferred and recorded; the message stays queued, the other copy is
// delivered; a later run retries when due, without a second copy for demo.
TEST_F(QueueManagerTest, FailedSpooledDeliveryStaysQueuedAndIsRetried) {
  block_mailbox("alice");
  std::string id = spool_message({rcpt("demo@example.test"), rcpt("alice@example.test")});
  auto s = settings();
  s.retry_interval = 1;
  {
    QueueManager qm(s, spool, local, log, resolver());
    qm.start();
    qm.enqueue(id);
    ASSERT_TRUE(wait_status(id, 1, RecipientStatus::deferred));
    qm.stop();
    EXPECT_EQ(qm.deliveries(), 0u);
  }
  auto entry = spool.read(id);
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->recipients[0].status, RecipientStatus::delivered);
  EXPECT_EQ(entry->recipients[1].status, RecipientStatus::deferred);
  EXPECT_GE(entry->recipients[1].attempts, 1u);
  EXPECT_GT(entry->recipients[1].next_attempt, entry->envelope.arrival);
  EXPECT_FALSE(entry->recipients[1].last_error.empty());
  EXPECT_EQ(spool.list(), std::vector<std::string>{id});
  EXPECT_EQ(files_in(new_dir("demo")).size(), 1u);

  unblock_mailbox("alice");
  QueueManager again(s, spool, local, log, resolver());
  again.start();
  ASSERT_TRUE(wait_until([&] { return spool.list().empty(); }));
  again.stop();
  EXPECT_EQ(files_in(new_dir("alice")).size(), 1u);
  EXPECT_EQ(files_in(new_dir("demo")).size(), 1u);  // not delivered twice
}

// `tern queue flush`/`retry` record the recipient as due now (next_attempt 0)
// and poke the daemon, which rescans: the retry happens at once.
TEST_F(QueueManagerTest, RescanPicksUpARetryMarkedDueNow) {
  block_mailbox("alice");
  std::string id = spool_message({rcpt("alice@example.test")});
  QueueManager qm(settings(), spool, local, log, resolver());  // retries only after 300 s
  qm.start();
  qm.enqueue(id);
  ASSERT_TRUE(wait_status(id, 0, RecipientStatus::deferred));
  unblock_mailbox("alice");
  auto entry = spool.read(id);
  ASSERT_TRUE(entry);
  RecipientState due = entry->recipients[0];
  due.next_attempt = 0;
  ASSERT_TRUE(spool.record(id, 0, due));
  qm.rescan();
  ASSERT_TRUE(wait_until([&] { return qm.deliveries() == 1; }));
  qm.stop();
  EXPECT_TRUE(spool.list().empty());
  EXPECT_EQ(files_in(new_dir("alice")).size(), 1u);
}

// The fast path: a message made durable by the commit log is delivered from
// memory under its stable names, and its log record is released after the sync.
TEST_F(QueueManagerTest, DeliversFromMemoryAndReleasesTheLogRecord) {
  std::atomic<std::uint64_t> segment{0};
  MemoryMessage m = memory_message({rcpt("demo@example.test"), rcpt("bob@example.test")});
  log.append(m.payload, [&](Result<std::uint64_t> s) { segment = s.value_or(0); });
  ASSERT_TRUE(wait_until([&] { return segment != 0; }));
  m.log_segment = segment;
  QueueEnvelope env = m.envelope;

  QueueManager qm(settings(), spool, local, log, resolver());
  qm.start();
  qm.deliver(m);
  ASSERT_TRUE(wait_until([&] { return qm.deliveries() == 1; }));
  qm.stop();
  EXPECT_EQ(read_file(new_dir("demo") / local.stable_name(env, 0)), expected_copy("demo"));
  EXPECT_EQ(read_file(new_dir("bob") / local.stable_name(env, 1)), expected_copy("bob"));
  EXPECT_TRUE(spool.list().empty());
  log.stop();
  EXPECT_TRUE(files_in(dir / "log").empty());  // released: nothing to replay
}

// A message in memory whose delivery fails moves into the spool, where
// retries live, with the progress so far.
TEST_F(QueueManagerTest, FailedMemoryDeliveryMovesToTheSpool) {
  block_mailbox("alice");
  MemoryMessage m = memory_message({rcpt("demo@example.test"), rcpt("alice@example.test")});
  std::string id = m.envelope.id;
  QueueManager qm(settings(), spool, local, log, resolver());
  qm.start();
  qm.deliver(m);
  ASSERT_TRUE(wait_status(id, 1, RecipientStatus::deferred));
  qm.stop();
  auto entry = spool.read(id);
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->recipients[0].status, RecipientStatus::delivered);
  EXPECT_EQ(read_file(spool.active_path(id)).substr(entry->message_offset), body);
  EXPECT_EQ(files_in(new_dir("demo")).size(), 1u);
}

// A crash after the 250 but before delivery: the next start replays the old
// log segment; a copy that had already arrived is not delivered twice.
TEST_F(QueueManagerTest, ReplaysOldLogSegmentsAtStart) {
  testing::TempDir logdir;
  MemoryMessage a = memory_message({rcpt("demo@example.test")});
  MemoryMessage b = memory_message({rcpt("alice@example.test"), rcpt("info@example.test")});
  {
    CommitLog crashed(logdir.path());
    ASSERT_TRUE(crashed.open());
    std::atomic<int> done{0};
    for (auto* m : {&a, &b}) crashed.append(m->payload, [&](Result<std::uint64_t> s) { done += s ? 1 : 100; });
    ASSERT_TRUE(wait_until([&] { return done == 2; }));
  }  // never released: as if the process died
  // a had reached demo's Maildir before the crash.
  ASSERT_TRUE(local.deliver_bytes(a.envelope, a.message(), "demo@example.test", 0, false));

  CommitLog next(logdir.path());
  ASSERT_TRUE(next.open());
  ASSERT_EQ(next.old_segments().size(), 1u);
  QueueManager qm(settings(), spool, local, next, resolver());
  qm.start();  // the replay runs inside start()
  qm.stop();
  EXPECT_TRUE(next.old_segments().empty());
  EXPECT_EQ(files_in(new_dir("demo")).size(), 2u);  // a once, b (via info@) once
  EXPECT_EQ(files_in(new_dir("alice")).size(), 1u);
  EXPECT_EQ(read_file(new_dir("alice") / local.stable_name(b.envelope, 0)), expected_copy("alice"));
  EXPECT_TRUE(spool.list().empty());
}

TEST_F(QueueManagerTest, ManyMessagesAllArriveExactlyOnce) {
  QueueManager qm(settings(4), spool, local, log, resolver());
  qm.start();
  for (int i = 0; i < 20; ++i) {
    qm.enqueue(spool_message({rcpt("demo@example.test"), rcpt("bob@example.test")}));
    qm.deliver(memory_message({rcpt("demo@example.test"), rcpt("bob@example.test")}));
  }
  ASSERT_TRUE(wait_until([&] { return qm.deliveries() == 40; }));
  qm.stop();
  qm.stop();  // idempotent
  EXPECT_EQ(files_in(new_dir("demo")).size(), 40u);
  EXPECT_EQ(files_in(new_dir("bob")).size(), 40u);
  EXPECT_TRUE(spool.list().empty());
}

}  // namespace
}  // namespace tern
