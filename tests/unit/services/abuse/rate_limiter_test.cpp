#include "services/abuse/rate_limiter.hpp"

#include <gtest/gtest.h>

namespace tern::abuse {
namespace {

using namespace std::chrono_literals;
const Clock::time_point t0{};

TEST(RateLimiter, AllowsUpToTheLimitThenRefuses) {
  RateLimiter rl;
  RateLimit limit{3, 60s};
  EXPECT_TRUE(rl.try_acquire("a", limit, t0));
  EXPECT_TRUE(rl.try_acquire("a", limit, t0 + 1s));
  EXPECT_TRUE(rl.try_acquire("a", limit, t0 + 2s));
  EXPECT_FALSE(rl.try_acquire("a", limit, t0 + 3s));
  // Other keys are separate.
  EXPECT_TRUE(rl.try_acquire("b", limit, t0 + 3s));
}

TEST(RateLimiter, RefusalsAreNotCounted) {
  RateLimiter rl;
  RateLimit limit{2, 60s};
  rl.try_acquire("a", limit, t0);
  rl.try_acquire("a", limit, t0);
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(rl.try_acquire("a", limit, t0 + 1s));
  // Two windows later everything has aged out.
  EXPECT_TRUE(rl.try_acquire("a", limit, t0 + 121s));
}

TEST(RateLimiter, SlidingWindowHasNoBurstAtTheEdge) {
  RateLimiter rl;
  RateLimit limit{10, 60s};
  // The first event opens the window at t0; the rest come at its very end.
  ASSERT_TRUE(rl.try_acquire("a", limit, t0));
  for (int i = 0; i < 9; ++i) ASSERT_TRUE(rl.try_acquire("a", limit, t0 + 59s));
  // Just after the window edge the previous window still weighs almost fully.
  EXPECT_FALSE(rl.try_acquire("a", limit, t0 + 61s));
  // Half-way through the next window, half of it has been forgiven.
  double now = rl.current("a", limit, t0 + 90s);
  EXPECT_NEAR(now, 5.0, 0.01);
  int more = 0;
  while (rl.try_acquire("a", limit, t0 + 90s)) ++more;
  EXPECT_EQ(more, 5);
}

TEST(RateLimiter, CostCountsSeveralEvents) {
  RateLimiter rl;
  RateLimit limit{10, 60s};
  EXPECT_TRUE(rl.try_acquire("a", limit, t0, 7));
  EXPECT_FALSE(rl.try_acquire("a", limit, t0, 4));
  EXPECT_TRUE(rl.try_acquire("a", limit, t0, 3));
}

TEST(RateLimiter, ZeroMeansUnlimited) {
  RateLimiter rl;
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(rl.try_acquire("a", RateLimit{0, 60s}, t0));
  EXPECT_EQ(rl.keys(), 0u);
}

TEST(RateLimiter, BoundedKeysPruneStaleOnes) {
  RateLimiter rl(4);
  RateLimit limit{1, 60s};
  for (int i = 0; i < 4; ++i) rl.try_acquire("k" + std::to_string(i), limit, t0);
  EXPECT_EQ(rl.keys(), 4u);
  // Full of fresh keys: a new key is let through untracked.
  EXPECT_TRUE(rl.try_acquire("new", limit, t0 + 1s));
  EXPECT_EQ(rl.keys(), 4u);
  // Once the old ones are stale they make room.
  EXPECT_TRUE(rl.try_acquire("new", limit, t0 + 130s));
  EXPECT_EQ(rl.keys(), 1u);
}

TEST(ConnectionCounter, CapsOpenConnectionsPerKey) {
  ConnectionCounter c;
  EXPECT_TRUE(c.try_acquire("ip", 2));
  EXPECT_TRUE(c.try_acquire("ip", 2));
  EXPECT_FALSE(c.try_acquire("ip", 2));
  c.release("ip");
  EXPECT_TRUE(c.try_acquire("ip", 2));
  EXPECT_EQ(c.count("ip"), 2u);
  c.release("ip");
  c.release("ip");
  EXPECT_EQ(c.count("ip"), 0u);
  EXPECT_TRUE(c.try_acquire("other", 0));
}

}  // namespace
}  // namespace tern::abuse
