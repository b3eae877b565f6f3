// The queue manager: delivers every accepted message, retries temporary
// failures with back-off, and bounces what cannot be delivered.
//
// Work arrives three ways: messages the commit log made durable, handed over
// in memory (the common, fast case); messages spooled as files in active/
// (large ones, and any that must wait for a retry); and, at start, whatever an
// earlier run left behind (log segments are replayed, active/ is rescanned).
//
// Worker threads (delivery is blocking file I/O) take jobs from a ready list.
// Local recipients are delivered by the worker; remote ones are handed to the
// RemoteTransport, whose answer comes back as another job. Deliveries from
// memory are not fsynced one by one: a syncer thread calls syncfs() on the
// mail file system for a whole batch and only then releases their log
// records. A message that must wait is written to the spool with its
// per-recipient progress; the retry schedule doubles from retry_interval up
// to max_retry_interval, and after max_lifetime the sender gets a bounce
// (RFC 3464), never the null sender: a failed bounce goes to the postmaster.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "services/commit_log.hpp"
#include "services/local_delivery.hpp"
#include "services/message_intake.hpp"
#include "services/remote_transport.hpp"
#include "services/spool.hpp"

namespace tern {

struct QueueSettings {
  unsigned workers = 4;
  unsigned retry_interval = 300;       // seconds; first retry
  unsigned max_retry_interval = 3600;  // back-off cap
  unsigned max_lifetime = 432000;      // then bounce
  std::string hostname;                // Reporting-MTA, MAILER-DAEMON@hostname
  std::string postmaster;              // where double bounces go
};

class QueueManager {
 public:
  // resolve_mailbox maps an address to its local mailbox ("" when remote).
  QueueManager(QueueSettings settings, const Spool& spool, const LocalDelivery& local, CommitLog& log,
               std::function<std::string(const std::string&)> resolve_mailbox);
  ~QueueManager();

  // Remote delivery; without one, remote recipients wait (temporary failure).
  void set_transport(RemoteTransport* transport) { transport_ = transport; }
  // Returns the DKIM-Signature header(s) to put in front of a message going
  // out, or "" (no key for the sender's domain). Called on worker threads.
  using Signer = std::function<std::string(const QueueEnvelope&, std::string_view message)>;
  void set_signer(Signer signer) { signer_ = std::move(signer); }

  // Replays old log segments, schedules everything in active/, starts workers.
  void start();
  void enqueue(const std::string& id);   // thread-safe; a freshly spooled message
  void deliver(MemoryMessage message);   // thread-safe; a freshly logged message
  // Re-reads active/: picks up what `tern queue` changed (retry, bounce, delete).
  void rescan();
  // Finishes the work in hand (deliveries, the last sync), then joins.
  void stop();
  std::size_t deliveries() const;        // messages completed since start

 private:
  struct RemoteDone {
    std::vector<RemoteOutcome> outcomes;
    std::optional<MemoryMessage> memory;       // the message was in memory...
    std::vector<RecipientState> memory_states; // ...with these local results
    std::string spooled_id;                    // ...or in the spool
  };
  struct Job {
    std::string id;
    std::optional<MemoryMessage> memory;
    std::optional<RemoteDone> remote_done;
  };

  void push(Job job);
  void worker();
  void syncer();
  void process_spooled(const std::string& id);
  void process_memory(MemoryMessage& m);
  void finish_memory(MemoryMessage& m, std::vector<RecipientState>& states);
  void finish_spooled(const std::string& id, const std::vector<RemoteOutcome>& outcomes);
  void apply_outcome(const QueueEnvelope& env, const RemoteOutcome& o, RecipientState& st, std::int64_t now) const;
  std::int64_t next_retry(unsigned attempts, std::int64_t now) const;
  // Sends the bounce for every `failed` recipient and marks them bounced.
  void bounce_failed(const QueueEnvelope& env, std::string_view message, std::vector<RecipientState>& states);
  Result<std::string> inject(const std::string& recipient, const std::string& body);
  void replay_old_segments();
  // Local deliveries of a memory message; returns the states.
  std::vector<RecipientState> deliver_local(const MemoryMessage& m, bool replay);
  void send_remote(RemoteRequest request, RemoteDone context);

  QueueSettings settings_;
  const Spool& spool_;
  const LocalDelivery& local_;
  CommitLog& log_;
  std::function<std::string(const std::string&)> resolve_mailbox_;
  RemoteTransport* transport_ = nullptr;
  Signer signer_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable sync_cv_;
  std::deque<Job> ready_;
  std::multimap<std::int64_t, std::string> deferred_;  // due time -> id
  std::multimap<std::int64_t, MemoryMessage> memory_deferred_;
  std::set<std::string> busy_;           // spooled ids being worked on (incl. remote in flight)
  std::size_t remote_in_flight_ = 0;
  std::vector<std::uint64_t> to_sync_;   // log segments of settled messages
  std::vector<std::thread> threads_;
  std::thread sync_thread_;
  bool stopping_ = false;
  bool sync_stopping_ = false;
  std::size_t completed_ = 0;
};

}  // namespace tern
