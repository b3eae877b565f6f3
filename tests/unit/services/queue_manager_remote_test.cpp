// QueueManager with remote recipients: the RemoteTransport's outcome decides
// between delivered, retry and bounce (RFC 3464), bounces never go to the null
// sender (a failed bounce goes to the postmaster), and a message past
// max_lifetime is bounced with 4.4.7 turned permanent.
#include <mutex>

#include "tests/unit/services/queue_fixture.hpp"

namespace tern {
namespace {

using testing::files_in;
using testing::read_file;
using testing::wait_until;

// Answers every request at once with one outcome kind for all recipients.
class FakeTransport final : public RemoteTransport {
 public:
  explicit FakeTransport(RemoteOutcome::Kind kind) : kind_(kind) {}
  void send(RemoteRequest request, std::function<void(std::vector<RemoteOutcome>)> done) override {
    std::vector<RemoteOutcome> out;
    for (auto i : request.recipients) {
      switch (kind_) {
        case RemoteOutcome::Kind::delivered: out.push_back({i, kind_, "2.0.0", "250 2.0.0 Ok", "mx.remote.example"}); break;
        case RemoteOutcome::Kind::temporary:
          out.push_back({i, kind_, "4.4.1", "451 4.4.1 try later", "mx.remote.example"});
          break;
        case RemoteOutcome::Kind::permanent:
          out.push_back({i, kind_, "5.1.1", "550 5.1.1 <" + request.envelope.recipients[i].address + ">: no such user",
                         "mx.remote.example"});
          break;
      }
    }
    {
      std::lock_guard lock(mu_);
      requests_.push_back(std::move(request));
    }
    done(std::move(out));
  }
  std::vector<RemoteRequest> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  RemoteOutcome::Kind kind_;
  std::mutex mu_;
  std::vector<RemoteRequest> requests_;
};

class QueueRemoteTest : public testing::QueueFixture {
 protected:
  // The one message in a user's new/ (waits for it to arrive).
  std::string only_message(const std::string& user) {
    EXPECT_TRUE(wait_until([&] { return files_in(new_dir(user)).size() == 1; })) << user;
    auto files = files_in(new_dir(user));
    return files.size() == 1 ? read_file(files[0]) : std::string{};
  }
};

TEST_F(QueueRemoteTest, RemoteRecipientsGoThroughTheTransport) {
  FakeTransport transport(RemoteOutcome::Kind::delivered);
  QueueManager qm(settings(), spool, local, log, resolver());
  qm.set_transport(&transport);
  qm.start();
  qm.deliver(memory_message({rcpt("demo@example.test"), rcpt("someone@remote.example")}));
  ASSERT_TRUE(wait_until([&] { return qm.deliveries() == 1; }));
  qm.stop();
  auto requests = transport.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].recipients, std::vector<std::size_t>{1});  // only the remote one
  EXPECT_EQ(requests[0].message(), body);
  EXPECT_EQ(files_in(new_dir("demo")).size(), 1u);
  EXPECT_TRUE(spool.list().empty());
}

TEST_F(QueueRemoteTest, WithoutTransportRemoteRecipientsWait) {
  QueueManager qm(settings(), spool, local, log, resolver());
  qm.start();
  MemoryMessage m = memory_message({rcpt("someone@remote.example")});
  qm.deliver(m);
  ASSERT_TRUE(wait_status(m.envelope.id, 0, RecipientStatus::deferred));
  qm.stop();
  auto entry = spool.read(m.envelope.id);
  ASSERT_TRUE(entry);
  EXPECT_NE(entry->recipients[0].last_error.find("not configured"), std::string::npos);
  EXPECT_EQ(qm.deliveries(), 0u);
}

// A permanent failure: the sender (here a local user) gets an RFC 3464 report.
TEST_F(QueueRemoteTest, PermanentFailureBouncesToTheSender) {
  FakeTransport transport(RemoteOutcome::Kind::permanent);
  QueueManager qm(settings(), spool, local, log, resolver());
  qm.set_transport(&transport);
  qm.start();
  QueueEnvelope env = make_envelope({rcpt("someone@remote.example")}, "alice@example.test");
  qm.deliver(memory_message(env));
  std::string dsn = only_message("alice");
  ASSERT_TRUE(wait_until([&] { return qm.deliveries() == 2 && spool.list().empty(); }));  // the message and its bounce
  qm.stop();
  EXPECT_TRUE(dsn.starts_with("Return-Path: <>\r\nDelivered-To: alice@example.test\r\n")) << dsn;
  EXPECT_NE(dsn.find("From: Mail Delivery System <MAILER-DAEMON@mx.example.test>\r\n"), std::string::npos);
  EXPECT_NE(dsn.find("Content-Type: multipart/report; report-type=delivery-status;"), std::string::npos);
  EXPECT_NE(dsn.find("Final-Recipient: rfc822; someone@remote.example\r\n"), std::string::npos);
  EXPECT_NE(dsn.find("Status: 5.1.1\r\n"), std::string::npos);
  EXPECT_NE(dsn.find("Remote-MTA: dns; mx.remote.example\r\n"), std::string::npos);
  EXPECT_NE(dsn.find("Subject: q\r\n"), std::string::npos);  // the returned headers
  EXPECT_EQ(dsn.find("\r\n\r\nbody\r\n"), std::string::npos);  // but not the body
}

// RFC 5321 §4.5.5: never a bounce to <>; the postmaster gets it instead.
TEST_F(QueueRemoteTest, BounceOfANullSenderMessageGoesToThePostmaster) {
  FakeTransport transport(RemoteOutcome::Kind::permanent);
  QueueManager qm(settings(), spool, local, log, resolver());
  qm.set_transport(&transport);
  qm.start();
  qm.deliver(memory_message(make_envelope({rcpt("someone@remote.example")}, "")));
  std::string dsn = only_message("demo");  // postmaster is an alias of demo
  ASSERT_TRUE(wait_until([&] { return spool.list().empty(); }));
  qm.stop();
  EXPECT_NE(dsn.find("To: <postmaster@example.test>\r\n"), std::string::npos) << dsn;
  EXPECT_EQ(transport.requests().size(), 1u);  // the bounce itself is local, not sent out
}

// A temporary failure is retried later: the message waits in the spool with
// the attempt counted and a next attempt in the future.
TEST_F(QueueRemoteTest, TemporaryFailureIsDeferredWithBackOff) {
  FakeTransport transport(RemoteOutcome::Kind::temporary);
  QueueManager qm(settings(), spool, local, log, resolver());
  qm.set_transport(&transport);
  qm.start();
  MemoryMessage m = memory_message({rcpt("someone@remote.example")});
  qm.deliver(m);
  ASSERT_TRUE(wait_status(m.envelope.id, 0, RecipientStatus::deferred));
  qm.stop();
  auto entry = spool.read(m.envelope.id);
  ASSERT_TRUE(entry);
  const auto& st = entry->recipients[0];
  EXPECT_EQ(st.attempts, 1u);
  EXPECT_GE(st.next_attempt, m.envelope.arrival + 300);
  EXPECT_LE(st.next_attempt, m.envelope.arrival + 300 + 60);
  EXPECT_NE(st.last_error.find("451 4.4.1 try later"), std::string::npos);
}

// After max_lifetime a temporary failure is final: bounced as expired.
TEST_F(QueueRemoteTest, ExpiredMessageIsBounced) {
  FakeTransport transport(RemoteOutcome::Kind::temporary);
  QueueManager qm(settings(), spool, local, log, resolver());
  qm.set_transport(&transport);
  QueueEnvelope env = make_envelope({rcpt("someone@remote.example")}, "bob@example.test");
  env.arrival -= 432000 + 60;  // queued six days ago
  std::string id = spool_message(env);
  qm.start();
  std::string dsn = only_message("bob");
  ASSERT_TRUE(wait_until([&] { return spool.list().empty(); }));
  qm.stop();
  // RFC 3463 X.4.7, reported as a permanent failure.
  EXPECT_NE(dsn.find("Status: 5.4.7\r\n"), std::string::npos) << dsn;
  EXPECT_NE(dsn.find("delivery time expired"), std::string::npos);
}

}  // namespace
}  // namespace tern
