// The group-committed log that makes small messages durable before the 250.
//
// Sessions append whole records (envelope + message); one committer thread
// writes everything that arrived since its last round in one write and one
// fdatasync, then completes every waiting commit. Many messages share one
// disk flush, which is what lets Tern acknowledge thousands of fsynced
// messages a second where a file-per-message design pays a flush each.
//
// A record stays needed until its message is delivered and that delivery is
// itself durable; then release() drops it. A segment file is deleted once it
// is no longer the one being written and holds no needed record. After a
// crash, every record of every segment left on disk is replayed (delivery is
// idempotent), so the log loses nothing that was acknowledged. Segments are
// rotated at segment_bytes or after max_segment_age, so the replay window of
// an idle server stays short.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "base/error.hpp"
#include "services/durable_file.hpp"

namespace tern {

class CommitLog {
 public:
  using Done = std::move_only_function<void(Result<std::uint64_t> segment)>;
  using Payload = std::shared_ptr<const std::string>;

  CommitLog(std::filesystem::path dir, std::uint64_t segment_bytes = 64ull << 20);
  ~CommitLog();

  // Creates the directory and a fresh segment after any left by a previous run
  // (those are for recover()), and starts the committer thread.
  Result<void> open();
  void stop();

  // Queues a record; done runs on the committer thread once it is durable
  // (with the segment number to release later) or failed.
  void append(Payload payload, Done done);
  void release(std::uint64_t segment);

  // Segments left by an earlier run, oldest first.
  std::vector<std::filesystem::path> old_segments() const;
  // Calls fn with each intact record's payload; stops at the first torn or
  // corrupt one (the tail of a crash). Returns how many were read.
  static Result<std::size_t> read_segment(const std::filesystem::path& segment,
                                          const std::function<void(std::string_view)>& fn);
  static std::string frame(std::string_view payload);

 private:
  struct Pending {
    Payload payload;
    Done done;
  };
  void committer();
  Result<void> start_segment();
  void retire_if_unused(std::uint64_t segment);  // mu_ held

  std::filesystem::path dir_;
  std::uint64_t segment_bytes_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> pending_;
  bool stopping_ = false;
  std::thread thread_;
  // Committer-owned state.
  UniqueFd fd_;
  std::uint64_t segment_ = 0;
  std::uint64_t first_segment_ = 0;
  std::uint64_t written_ = 0;
  std::chrono::steady_clock::time_point segment_started_;
  // Needed records per segment (under mu_).
  std::map<std::uint64_t, std::uint64_t> live_;
};

}  // namespace tern
