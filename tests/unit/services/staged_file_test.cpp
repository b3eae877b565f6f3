// StagedFile: nothing is visible under the final name until commit(), and
// discard (or destruction) leaves nothing behind.
#include "services/staged_file.hpp"

#include <gtest/gtest.h>

#include "tests/unit/support/temp_dir.hpp"

namespace tern {
namespace {

using testing::read_file;

class StagedFileTest : public ::testing::Test {
 protected:
  testing::TempDir dir;
  std::filesystem::path temp = dir / "file.tmp";
  std::filesystem::path final_path = dir / "file";
};

TEST_F(StagedFileTest, FinalFileAppearsOnlyAfterCommit) {
  auto f = StagedFile::create(temp, final_path);
  ASSERT_TRUE(f) << f.error().detail;
  EXPECT_TRUE(f->open());
  EXPECT_TRUE(std::filesystem::exists(temp));
  f->write("hello ");
  f->write("world\r\n");
  EXPECT_EQ(f->bytes_written(), 13u);
  EXPECT_FALSE(std::filesystem::exists(final_path));
  ASSERT_TRUE(f->commit());
  EXPECT_FALSE(f->open());
  EXPECT_TRUE(std::filesystem::exists(final_path));
  EXPECT_FALSE(std::filesystem::exists(temp));
  EXPECT_EQ(read_file(final_path), "hello world\r\n");
  EXPECT_EQ(std::filesystem::status(final_path).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

TEST_F(StagedFileTest, LargeWritesPassTheBuffer) {
  std::string expected;
  auto f = StagedFile::create(temp, final_path);
  ASSERT_TRUE(f);
  for (int i = 0; i < 50; ++i) {
    std::string piece(i * 997 % 70000 + 1, static_cast<char>('a' + i % 26));
    f->write(piece);
    expected += piece;
  }
  f->write(std::string(200000, 'Z'));
  expected += std::string(200000, 'Z');
  ASSERT_TRUE(f->commit());
  EXPECT_EQ(read_file(final_path), expected);
}

TEST_F(StagedFileTest, DiscardLeavesNothing) {
  auto f = StagedFile::create(temp, final_path);
  ASSERT_TRUE(f);
  f->write(std::string(100000, 'x'));
  f->discard();
  EXPECT_FALSE(f->open());
  EXPECT_FALSE(std::filesystem::exists(temp));
  EXPECT_FALSE(std::filesystem::exists(final_path));
  EXPECT_FALSE(f->commit());  // nothing left to commit
  EXPECT_FALSE(std::filesystem::exists(final_path));
}

TEST_F(StagedFileTest, DestructionWithoutCommitDiscards) {
  {
    auto f = StagedFile::create(temp, final_path);
    ASSERT_TRUE(f);
    f->write("abandoned");
  }
  EXPECT_FALSE(std::filesystem::exists(temp));
  EXPECT_FALSE(std::filesystem::exists(final_path));
}

TEST_F(StagedFileTest, MovedFileStillCommits) {
  std::optional<StagedFile> f;
  {
    auto created = StagedFile::create(temp, final_path);
    ASSERT_TRUE(created);
    f = std::move(*created);
  }  // destroying the moved-from object must not touch the file
  ASSERT_TRUE(std::filesystem::exists(temp));
  f->write("moved");
  StagedFile g = std::move(*f);
  f.reset();
  ASSERT_TRUE(g.commit());
  EXPECT_EQ(read_file(final_path), "moved");
}

TEST_F(StagedFileTest, CreateIsExclusive) {
  testing::write_file(temp, "someone else's");
  auto f = StagedFile::create(temp, final_path);
  EXPECT_FALSE(f);
  EXPECT_EQ(read_file(temp), "someone else's");
  EXPECT_FALSE(StagedFile::create(dir / "no-such-dir" / "x", final_path));
}

TEST_F(StagedFileTest, FailedRenameLeavesNothing) {
  auto f = StagedFile::create(temp, dir / "no-such-dir" / "file");
  ASSERT_TRUE(f);
  f->write("x");
  auto r = f->commit();
  ASSERT_FALSE(r);
  EXPECT_FALSE(r.error().permanent());  // local trouble is temporary: 451, retry
  EXPECT_FALSE(std::filesystem::exists(temp));
}

}  // namespace
}  // namespace tern
