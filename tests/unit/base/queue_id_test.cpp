// Queue ids: 16 characters of [0-9A-Z], unique, ordered by arrival time.
#include "base/queue_id.hpp"

#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace tern {
namespace {

TEST(QueueId, MadeIdsAreValid) {
  for (int i = 0; i < 1000; ++i) {
    std::string id = make_queue_id();
    ASSERT_TRUE(is_valid_queue_id(id)) << id;
    ASSERT_EQ(id.size(), 16u);
  }
}

TEST(QueueId, Validity) {
  EXPECT_TRUE(is_valid_queue_id("0123456789ABCDEF"));
  EXPECT_TRUE(is_valid_queue_id("ZZZZZZZZZZZZZZZZ"));
  EXPECT_FALSE(is_valid_queue_id(""));
  EXPECT_FALSE(is_valid_queue_id("0123456789ABCDE"));    // 15
  EXPECT_FALSE(is_valid_queue_id("0123456789ABCDEF0"));  // 17
  EXPECT_FALSE(is_valid_queue_id("0123456789abcdef"));   // lower case
  EXPECT_FALSE(is_valid_queue_id("0123456789ABCDE/"));
  EXPECT_FALSE(is_valid_queue_id("../../etc/passwd"));
  EXPECT_FALSE(is_valid_queue_id(std::string("0123456789ABCDE\0", 16)));
}

TEST(QueueId, UniqueAcrossThreads) {
  constexpr int threads = 4, per_thread = 20000;
  std::vector<std::vector<std::string>> made(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) made[t].push_back(make_queue_id());
    });
  for (auto& th : pool) th.join();
  std::set<std::string> all;
  for (const auto& v : made) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), static_cast<std::size_t>(threads * per_thread));
}

// The first 11 characters are the time, so ids sort by arrival across
// microseconds (the spool lists oldest first by sorting names).
TEST(QueueId, TimePrefixNeverGoesBackwards) {
  std::string prev = make_queue_id();
  for (int i = 0; i < 10000; ++i) {
    std::string id = make_queue_id();
    ASSERT_LE(prev.substr(0, 11), id.substr(0, 11));
    prev = id;
  }
}

}  // namespace
}  // namespace tern
