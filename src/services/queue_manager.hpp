// The queue manager: delivers every accepted message, retrying temporary
// failures later.
//
// Work arrives three ways: messages the commit log made durable, handed over
// in memory (the common, fast case); messages spooled as files in active/
// (large ones, and any whose first delivery failed); and, at start, whatever
// an earlier run left behind (log segments are replayed, active/ is rescanned).
//
// Worker threads (delivery is blocking file I/O) take jobs from a ready list;
// deferred spool messages wait in a time-ordered schedule. Deliveries from
// memory are not fsynced one by one: a syncer thread calls syncfs() on the
// mail file system for a whole batch, and only then releases their log
// records. A message leaves the spool only when every recipient is delivered
// or failed; per-recipient progress is logged first, so a crash repeats at
// most the delivery in progress (at-least-once, never lost).
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "services/commit_log.hpp"
#include "services/local_delivery.hpp"
#include "services/message_intake.hpp"
#include "services/spool.hpp"

namespace tern {

struct QueueSettings {
  unsigned workers = 4;
  unsigned retry_interval = 300;  // seconds
};

class QueueManager {
 public:
  QueueManager(QueueSettings settings, const Spool& spool, const LocalDelivery& local, CommitLog& log);
  ~QueueManager();

  // Replays old log segments, schedules everything in active/, starts workers.
  void start();
  void enqueue(const std::string& id);      // thread-safe; a freshly spooled message
  void deliver(MemoryMessage message);      // thread-safe; a freshly logged message
  void flush();                             // every deferred message: now
  // Finishes the work in hand (deliveries, the last sync), then joins.
  void stop();
  std::size_t deliveries() const;           // messages completed since start

 private:
  struct Job {
    std::string id;                       // spooled message
    std::optional<MemoryMessage> memory;  // or a message in memory
  };
  void worker();
  void syncer();
  void process_spooled(const std::string& id);
  void process_memory(MemoryMessage& m);
  // Delivers every distinct local mailbox of m; false if any failed (m is then
  // written to the spool for retries).
  bool deliver_from_memory(const MemoryMessage& m, bool replay);
  void replay_old_segments();

  QueueSettings settings_;
  const Spool& spool_;
  const LocalDelivery& local_;
  CommitLog& log_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable sync_cv_;
  std::deque<Job> ready_;
  std::multimap<std::int64_t, std::string> deferred_;  // due time -> id
  // Logged messages that could be neither delivered nor spooled (disk trouble).
  std::multimap<std::int64_t, MemoryMessage> memory_deferred_;
  std::set<std::string> busy_;
  std::vector<std::uint64_t> to_sync_;  // log segments of delivered, unsynced messages
  std::size_t in_progress_ = 0;
  std::vector<std::thread> threads_;
  std::thread sync_thread_;
  bool stopping_ = false;
  bool sync_stopping_ = false;
  std::size_t completed_ = 0;
};

}  // namespace tern
