// Shared set-up for QueueManager tests: a spool, a commit log, local delivery
// into a temporary mail tree for example.test (demo, alice, bob; postmaster
// and info are aliases of demo), and helpers to queue messages either way.
#pragma once
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "base/queue_id.hpp"
#include "services/queue_manager.hpp"
#include "services/recipient_directory.hpp"
#include "tests/unit/services/test_config.hpp"
#include "tests/unit/support/wait.hpp"

namespace tern::testing {

class QueueFixture : public ::testing::Test {
 protected:
  // As the daemon does at start (runtime/server.cpp): the spool, the mail
  // tree (the queue manager syncs its file system) and the commit log exist.
  void SetUp() override {
    ASSERT_TRUE(spool.prepare());
    ASSERT_TRUE(make_private_dirs(config->mail_dir()));
    ASSERT_TRUE(log.open());
  }

  static inline const std::string body = "Subject: q\r\n\r\nbody\r\n";

  QueueSettings settings(unsigned workers = 2) {
    QueueSettings s;
    s.workers = workers;
    s.retry_interval = 300;
    s.max_retry_interval = 3600;
    s.max_lifetime = 432000;
    s.hostname = "mx.example.test";
    s.postmaster = "postmaster@example.test";
    return s;
  }

  // The mailbox an address ends in, "" when it is not local.
  std::function<std::string(const std::string&)> resolver() {
    return [dir = directory](const std::string& address) -> std::string {
      auto a = parse_mailbox(address);
      if (!a) return {};
      auto mb = dir->resolve(*a);
      return mb ? mb->address : std::string{};
    };
  }

  QueuedRecipient rcpt(const std::string& address) { return {address, resolver()(address)}; }

  QueueEnvelope make_envelope(std::vector<QueuedRecipient> rcpts, std::string sender = "sender@client.example") {
    QueueEnvelope e;
    e.id = make_queue_id();
    e.arrival = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch()).count();
    e.sender = std::move(sender);
    e.recipients = std::move(rcpts);
    return e;
  }

  std::string spool_message(const QueueEnvelope& e) {
    write_file(spool.active_path(e.id), serialize_envelope(e) + body);
    return e.id;
  }
  std::string spool_message(std::vector<QueuedRecipient> rcpts) { return spool_message(make_envelope(std::move(rcpts))); }

  MemoryMessage memory_message(const QueueEnvelope& e, std::uint64_t segment = 0) {
    std::string text = serialize_envelope(e);
    std::size_t offset = text.size();
    return MemoryMessage{e, std::make_shared<const std::string>(text + body), offset, segment};
  }
  MemoryMessage memory_message(std::vector<QueuedRecipient> rcpts) { return memory_message(make_envelope(std::move(rcpts))); }

  std::filesystem::path new_dir(const std::string& user) {
    return config->mail_dir() / "example.test" / user / "Maildir" / "new";
  }
  std::string expected_copy(const std::string& user, const std::string& sender = "sender@client.example") {
    return "Return-Path: <" + sender + ">\r\nDelivered-To: " + user + "@example.test\r\n" + body;
  }

  // A file where the user's mail tree should be makes every delivery to it fail.
  void block_mailbox(const std::string& user) {
    std::filesystem::create_directories(config->mail_dir() / "example.test");
    write_file(config->mail_dir() / "example.test" / user, "in the way");
  }
  void unblock_mailbox(const std::string& user) { std::filesystem::remove(config->mail_dir() / "example.test" / user); }

  // Waits until recipient i of a spooled message has the given status.
  bool wait_status(const std::string& id, std::size_t i, RecipientStatus status) {
    return wait_until([&] {
      auto e = spool.read(id);
      return e && i < e->recipients.size() && e->recipients[i].status == status;
    });
  }

  TempDir dir;
  std::shared_ptr<const Config> config = make_test_config(dir);
  std::shared_ptr<const RecipientDirectory> directory = std::make_shared<RecipientDirectory>(*config);
  Spool spool{config->queue_dir()};
  LocalDelivery local{config->mail_dir(), config->hostname, spool};
  CommitLog log{dir / "log"};
};

}  // namespace tern::testing
