// The queue manager: takes committed messages from the spool and delivers
// each recipient, retrying temporary failures later.
//
// Design: a small pool of worker threads (delivery is blocking file I/O) fed
// by a ready list; deferred messages wait in a time-ordered schedule. At start
// every message in active/ is scheduled again, so a restart resumes all work.
// A message leaves the spool only when every recipient is delivered or failed.
// Per-recipient progress is appended to the status log before moving on, so
// a crash repeats at most the delivery in progress (at-least-once, never lost).
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

#include "services/local_delivery.hpp"
#include "services/spool.hpp"

namespace tern {

struct QueueSettings {
  unsigned workers = 4;
  unsigned retry_interval = 300;  // seconds
};

class QueueManager {
 public:
  QueueManager(QueueSettings settings, const Spool& spool, const LocalDelivery& local);
  ~QueueManager();

  void start();                          // schedules everything in active/ and starts workers
  void enqueue(const std::string& id);   // thread-safe; a freshly committed message
  void flush();                          // every deferred message: now
  void stop();                           // finishes deliveries in progress, joins
  std::size_t deliveries() const;        // messages completed since start (for logs/tests)

 private:
  void worker();
  void process(const std::string& id);

  QueueSettings settings_;
  const Spool& spool_;
  const LocalDelivery& local_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> ready_;
  std::multimap<std::int64_t, std::string> deferred_;  // due time -> id
  std::set<std::string> busy_;                         // being processed now
  std::vector<std::thread> threads_;
  bool stopping_ = false;
  std::size_t completed_ = 0;
};

}  // namespace tern
