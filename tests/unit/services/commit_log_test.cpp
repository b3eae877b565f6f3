// CommitLog: records are durable when their callback runs, read back intact,
// a torn tail stops the reading, and a segment goes away once no record in it
// is needed.
#include "services/commit_log.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>

#include "tests/unit/support/temp_dir.hpp"
#include "tests/unit/support/wait.hpp"

namespace tern {
namespace {

using testing::files_in;
using testing::wait_until;

std::vector<std::string> read_all(const std::filesystem::path& segment) {
  std::vector<std::string> out;
  auto n = CommitLog::read_segment(segment, [&](std::string_view p) { out.emplace_back(p); });
  EXPECT_TRUE(n);
  if (n) {
    EXPECT_EQ(*n, out.size());
  }
  return out;
}

TEST(CommitLog, FrameAndReadBack) {
  testing::TempDir dir;
  auto seg = dir / "000000000001.log";
  testing::write_file(seg, CommitLog::frame("one") + CommitLog::frame("") + CommitLog::frame(std::string(70000, 'x')) +
                               CommitLog::frame("line\nbreaks\n\nand TR1 1 0\n"));
  auto records = read_all(seg);
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[0], "one");
  EXPECT_EQ(records[1], "");
  EXPECT_EQ(records[2], std::string(70000, 'x'));
  EXPECT_EQ(records[3], "line\nbreaks\n\nand TR1 1 0\n");
}

// After a crash the last record may be torn or garbage: everything before it
// is read, nothing after.
TEST(CommitLog, TornOrCorruptTailStopsReading) {
  testing::TempDir dir;
  auto seg = dir / "000000000001.log";
  std::string good = CommitLog::frame("first") + CommitLog::frame("second");
  std::string third = CommitLog::frame("third record");
  testing::write_file(seg, good + third.substr(0, third.size() - 3));
  EXPECT_EQ(read_all(seg), (std::vector<std::string>{"first", "second"}));

  std::string corrupt = third;
  corrupt.back() ^= 1;  // CRC mismatch
  testing::write_file(seg, good + corrupt + CommitLog::frame("after"));
  EXPECT_EQ(read_all(seg), (std::vector<std::string>{"first", "second"}));

  testing::write_file(seg, good + "garbage\n");
  EXPECT_EQ(read_all(seg).size(), 2u);
  EXPECT_FALSE(CommitLog::read_segment(dir / "missing.log", [](std::string_view) {}));
}

TEST(CommitLog, AppendCompletesDurablyAndReleaseRetiresOldSegments) {
  testing::TempDir dir;
  CommitLog log(dir / "log", 1);  // rotate after every batch
  ASSERT_TRUE(log.open());
  std::mutex mu;
  std::vector<std::uint64_t> segments;
  for (int i = 0; i < 5; ++i)
    log.append(std::make_shared<const std::string>("record " + std::to_string(i)), [&](Result<std::uint64_t> s) {
      ASSERT_TRUE(s);
      std::lock_guard lock(mu);
      segments.push_back(*s);
    });
  ASSERT_TRUE(wait_until([&] {
    std::lock_guard lock(mu);
    return segments.size() == 5;
  }));
  // Every record is on disk before its callback ran.
  std::size_t on_disk = 0;
  for (const auto& seg : files_in(dir / "log")) on_disk += read_all(seg).size();
  EXPECT_EQ(on_disk, 5u);
  // Once every record is released, only the segment being written remains.
  for (auto s : segments) log.release(s);
  ASSERT_TRUE(wait_until([&] {
    std::size_t records = 0;
    for (const auto& seg : files_in(dir / "log")) records += read_all(seg).size();
    return records == 0;
  }));
  log.stop();
  EXPECT_TRUE(files_in(dir / "log").empty());  // a clean stop leaves nothing to replay
}

// Segments with needed records survive a stop and are offered to the next run.
TEST(CommitLog, UnreleasedRecordsAreOldSegmentsNextTime) {
  testing::TempDir dir;
  {
    CommitLog log(dir / "log");
    ASSERT_TRUE(log.open());
    std::atomic<int> done{0};
    log.append(std::make_shared<const std::string>("keep me"), [&](Result<std::uint64_t> s) {
      EXPECT_TRUE(s);
      ++done;
    });
    ASSERT_TRUE(wait_until([&] { return done == 1; }));
    EXPECT_TRUE(log.old_segments().empty());
  }
  CommitLog next(dir / "log");
  ASSERT_TRUE(next.open());
  auto old = next.old_segments();
  ASSERT_EQ(old.size(), 1u);
  EXPECT_EQ(read_all(old[0]), std::vector<std::string>{"keep me"});
}

}  // namespace
}  // namespace tern
