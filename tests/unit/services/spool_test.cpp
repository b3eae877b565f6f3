// The durable queue's files: the envelope format, the per-recipient status
// log, listing, removal and the clean-up of unacknowledged leftovers.
#include "services/spool.hpp"

#include <gtest/gtest.h>

#include "base/queue_id.hpp"
#include "tests/unit/support/temp_dir.hpp"

namespace tern {
namespace {

using testing::files_in;
using testing::read_file;
using testing::write_file;

QueueEnvelope sample_envelope(std::string id) {
  QueueEnvelope e;
  e.id = std::move(id);
  e.arrival = 1700000000;
  e.client_ip = "192.0.2.1";
  e.helo = "client.example";
  e.sender = "a@client.example";
  e.smtputf8 = true;
  e.body_8bit = true;
  e.junk = true;
  e.recipients = {{"demo@example.test", "demo@example.test"},
                  {"Info@Example.test", "demo@example.test"},
                  {"alice@example.test", "alice@example.test"},
                  {"someone@remote.example", ""}};
  return e;
}

class SpoolTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(spool.prepare()); }

  // Writes a committed message the way MessageIntake does.
  std::string put(const QueueEnvelope& e, std::string_view message) {
    write_file(spool.active_path(e.id), serialize_envelope(e) + std::string(message));
    return e.id;
  }

  testing::TempDir dir;
  Spool spool{dir / "queue"};
};

TEST(SpoolEnvelope, SerializeParseRoundTrip) {
  QueueEnvelope e = sample_envelope(make_queue_id());
  std::string text = serialize_envelope(e);
  ASSERT_TRUE(text.ends_with("\n\n"));
  auto back = parse_envelope(std::string_view(text).substr(0, text.size() - 1));
  ASSERT_TRUE(back) << back.error().detail;
  EXPECT_EQ(back->id, e.id);
  EXPECT_EQ(back->arrival, e.arrival);
  EXPECT_EQ(back->client_ip, e.client_ip);
  EXPECT_EQ(back->helo, e.helo);
  EXPECT_EQ(back->sender, e.sender);
  EXPECT_TRUE(back->smtputf8);
  EXPECT_TRUE(back->body_8bit);
  EXPECT_TRUE(back->junk);  // DMARC quarantine survives the log and the spool
  ASSERT_EQ(back->recipients.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(back->recipients[i].address, e.recipients[i].address);
    EXPECT_EQ(back->recipients[i].mailbox, e.recipients[i].mailbox);
  }
}

TEST(SpoolEnvelope, NullSenderNoFlagsAndOddHelo) {
  QueueEnvelope e = sample_envelope(make_queue_id());
  e.sender = "";
  e.smtputf8 = e.body_8bit = e.junk = false;
  e.helo = "two words\r\ninjected 1";
  std::string text = serialize_envelope(e);
  auto back = parse_envelope(std::string_view(text).substr(0, text.size() - 1));  // without the blank line
  ASSERT_TRUE(back) << back.error().detail;
  EXPECT_EQ(back->sender, "");
  EXPECT_FALSE(back->smtputf8);
  EXPECT_FALSE(back->body_8bit);
  EXPECT_FALSE(back->junk);
  EXPECT_EQ(back->helo, "two words??injected 1");  // line breaks cannot forge a key
  EXPECT_EQ(back->recipients.size(), 4u);
}

TEST(SpoolEnvelope, CorruptEnvelopesAreRefused) {
  std::string good = serialize_envelope(sample_envelope("0123456789ABCDEF"));
  good.pop_back();  // parse_envelope takes the envelope without its blank line
  ASSERT_TRUE(parse_envelope(good));
  EXPECT_FALSE(parse_envelope(""));
  EXPECT_FALSE(parse_envelope("tern-queue 2\n" + good.substr(good.find('\n') + 1)));
  EXPECT_FALSE(parse_envelope("tern-queue 1\nid 0123456789ABCDEF\n"));                          // no rcpt
  EXPECT_FALSE(parse_envelope("tern-queue 1\nid ../etc\nrcpt a@b\t\n"));                        // bad id
  EXPECT_FALSE(parse_envelope("tern-queue 1\nid 0123456789ABCDEF\nrcpt a@b\t\nfrob x\n"));      // unknown key
  EXPECT_FALSE(parse_envelope("tern-queue 1\nid 0123456789ABCDEF\narrival soon\nrcpt a@b\t\n"));
  EXPECT_FALSE(parse_envelope("tern-queue 1\nid 0123456789ABCDEF\nrcpt no-tab\n"));
  auto err = parse_envelope("garbage");
  ASSERT_FALSE(err);
  EXPECT_TRUE(err.error().permanent());
}

TEST_F(SpoolTest, PrepareCreatesPrivateDirectories) {
  for (const char* sub : {"incoming", "active", "status"}) {
    auto p = dir / "queue" / sub;
    ASSERT_TRUE(std::filesystem::is_directory(p)) << sub;
    auto perms = std::filesystem::status(p).permissions();
    EXPECT_EQ(perms & std::filesystem::perms::all, std::filesystem::perms::owner_all) << sub;
  }
  EXPECT_TRUE(spool.prepare());  // idempotent
}

TEST_F(SpoolTest, ReadFindsTheMessage) {
  std::string id = put(sample_envelope(make_queue_id()), "Subject: x\r\n\r\nbody\r\n");
  auto entry = spool.read(id);
  ASSERT_TRUE(entry) << entry.error().detail;
  EXPECT_EQ(entry->envelope.id, id);
  EXPECT_EQ(entry->message_size, 20u);
  std::string file = read_file(spool.active_path(id));
  EXPECT_EQ(file.substr(entry->message_offset), "Subject: x\r\n\r\nbody\r\n");
  ASSERT_EQ(entry->recipients.size(), 4u);
  for (const auto& r : entry->recipients) EXPECT_EQ(r.status, RecipientStatus::pending);
  EXPECT_FALSE(entry->done());
}

TEST_F(SpoolTest, ReadRefusesBadIdsAndMissingFiles) {
  EXPECT_FALSE(spool.read("../../etc/passwd"));
  EXPECT_TRUE(spool.read("../../etc/passwd").error().permanent());
  EXPECT_FALSE(spool.read("0123456789ABCDEF"));
  write_file(spool.active_path("0123456789ABCDEF"), "tern-queue 1\nid 0123456789ABCDEF\n");  // no blank line
  EXPECT_FALSE(spool.read("0123456789ABCDEF"));
}

TEST_F(SpoolTest, StatusLogRecordsProgress) {
  std::string id = put(sample_envelope(make_queue_id()), "m\r\n");
  RecipientState delivered{RecipientStatus::delivered, 1, 0, ""};
  RecipientState deferred{RecipientStatus::deferred, 2, 1700000300, "disk full\nreally"};
  RecipientState failed{RecipientStatus::failed, 3, 0, "no such user"};
  ASSERT_TRUE(spool.record(id, 0, delivered));
  ASSERT_TRUE(spool.record(id, 1, deferred));
  ASSERT_TRUE(spool.record(id, 3, failed));
  auto entry = spool.read(id);
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->recipients[0].status, RecipientStatus::delivered);
  EXPECT_EQ(entry->recipients[0].attempts, 1u);
  EXPECT_EQ(entry->recipients[1].status, RecipientStatus::deferred);
  EXPECT_EQ(entry->recipients[1].attempts, 2u);
  EXPECT_EQ(entry->recipients[1].next_attempt, 1700000300);
  EXPECT_EQ(entry->recipients[1].last_error, "disk full?really");
  EXPECT_EQ(entry->recipients[2].status, RecipientStatus::pending);
  EXPECT_EQ(entry->recipients[3].status, RecipientStatus::failed);
  EXPECT_EQ(entry->recipients[3].last_error, "no such user");
  EXPECT_FALSE(entry->done());

  // Later records win. A failed recipient is final only once its bounce is
  // sent (bounced); then, with the rest delivered, the message is done.
  ASSERT_TRUE(spool.record(id, 1, delivered));
  ASSERT_TRUE(spool.record(id, 2, delivered));
  entry = spool.read(id);
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->recipients[1].status, RecipientStatus::delivered);
  EXPECT_FALSE(entry->done());
  ASSERT_TRUE(spool.record(id, 3, RecipientState{RecipientStatus::bounced, 3, 0, "no such user"}));
  entry = spool.read(id);
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->recipients[3].status, RecipientStatus::bounced);
  EXPECT_TRUE(entry->done());
}

// A crash can tear the last status line; it is ignored, as are lines that
// make no sense.
TEST_F(SpoolTest, TornAndBadStatusLinesAreIgnored) {
  std::string id = put(sample_envelope(make_queue_id()), "m\r\n");
  write_file(spool.status_path(id), "0 delivered 1 0 \n9 delivered 1 0 \nx delivered 1 0 \n2 weird 1 0 \n1 deliv");
  auto entry = spool.read(id);
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->recipients[0].status, RecipientStatus::delivered);
  EXPECT_EQ(entry->recipients[1].status, RecipientStatus::pending);
  EXPECT_EQ(entry->recipients[2].status, RecipientStatus::pending);
}

TEST_F(SpoolTest, ListIsOldestFirstAndIgnoresStrangers) {
  std::string a = put(sample_envelope("0000000000000002"), "");
  std::string b = put(sample_envelope("0000000000000001"), "");
  write_file(dir / "queue" / "active" / "not-a-queue-id", "x");
  write_file(dir / "queue" / "active" / ".hidden", "x");
  EXPECT_EQ(spool.list(), (std::vector<std::string>{b, a}));
}

TEST_F(SpoolTest, RemoveDeletesMessageAndStatus) {
  std::string id = put(sample_envelope(make_queue_id()), "m\r\n");
  ASSERT_TRUE(spool.record(id, 0, RecipientState{RecipientStatus::delivered, 1, 0, ""}));
  ASSERT_TRUE(std::filesystem::exists(spool.status_path(id)));
  ASSERT_TRUE(spool.remove(id));
  EXPECT_FALSE(std::filesystem::exists(spool.active_path(id)));
  EXPECT_FALSE(std::filesystem::exists(spool.status_path(id)));
  EXPECT_TRUE(spool.list().empty());
  EXPECT_TRUE(spool.remove(id));  // already gone is fine
}

TEST_F(SpoolTest, CleanIncomingRemovesUnacknowledgedFiles) {
  write_file(spool.incoming_path("0000000000000001"), "half a message");
  write_file(spool.incoming_path("0000000000000002"), "");
  std::string kept = put(sample_envelope(make_queue_id()), "m\r\n");
  EXPECT_EQ(spool.clean_incoming(), 2u);
  EXPECT_TRUE(files_in(dir / "queue" / "incoming").empty());
  EXPECT_EQ(spool.list(), std::vector<std::string>{kept});
  EXPECT_EQ(spool.clean_incoming(), 0u);
}

TEST(SpoolStatus, Names) {
  EXPECT_EQ(to_string(RecipientStatus::pending), "pending");
  EXPECT_EQ(to_string(RecipientStatus::delivered), "delivered");
  EXPECT_EQ(to_string(RecipientStatus::deferred), "deferred");
  EXPECT_EQ(to_string(RecipientStatus::failed), "failed");
  EXPECT_EQ(to_string(RecipientStatus::bounced), "bounced");
}

}  // namespace
}  // namespace tern
