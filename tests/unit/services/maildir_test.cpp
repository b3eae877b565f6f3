// Maildir delivery target: tmp/new/cur created on first use, the message in
// tmp/ while written and in new/ once committed, names unique and safe.
#include "services/maildir.hpp"

#include <gtest/gtest.h>

#include <set>

#include "tests/unit/support/temp_dir.hpp"

namespace tern {
namespace {

using testing::files_in;
using testing::read_file;

TEST(Maildir, BeginCreatesTheTreeAndCommitMovesIntoNew) {
  testing::TempDir dir;
  auto maildir = dir / "mail/example.test/demo/Maildir";
  auto f = begin_maildir_message(maildir, "mx.example.test");
  ASSERT_TRUE(f) << f.error().detail;
  for (const char* sub : {"tmp", "new", "cur"}) EXPECT_TRUE(std::filesystem::is_directory(maildir / sub)) << sub;
  EXPECT_EQ(std::filesystem::status(maildir / "new").permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_all);
  f->write("Subject: hi\r\n\r\nbody\r\n");
  EXPECT_EQ(files_in(maildir / "tmp").size(), 1u);
  EXPECT_TRUE(files_in(maildir / "new").empty());
  ASSERT_TRUE(f->commit());
  EXPECT_TRUE(files_in(maildir / "tmp").empty());
  auto delivered = files_in(maildir / "new");
  ASSERT_EQ(delivered.size(), 1u);
  EXPECT_EQ(read_file(delivered[0]), "Subject: hi\r\n\r\nbody\r\n");
  EXPECT_EQ(delivered[0].filename(), f->final_path().filename());
  EXPECT_TRUE(files_in(maildir / "cur").empty());
}

TEST(Maildir, EnsureIsIdempotentAndKeepsMail) {
  testing::TempDir dir;
  auto maildir = dir / "Maildir";
  ASSERT_TRUE(ensure_maildir(maildir));
  testing::write_file(maildir / "new" / "existing", "x");
  ASSERT_TRUE(ensure_maildir(maildir));
  EXPECT_EQ(files_in(maildir / "new").size(), 1u);
}

TEST(Maildir, FailsCleanlyWhenTheTreeIsBlocked) {
  testing::TempDir dir;
  testing::write_file(dir / "blocked", "a file where a directory should be");
  auto f = begin_maildir_message(dir / "blocked" / "Maildir", "mx");
  ASSERT_FALSE(f);
  EXPECT_FALSE(f.error().permanent());
}

TEST(Maildir, DiscardLeavesNothing) {
  testing::TempDir dir;
  auto maildir = dir / "Maildir";
  auto f = begin_maildir_message(maildir, "mx");
  ASSERT_TRUE(f);
  f->write("never mind");
  f->discard();
  EXPECT_TRUE(files_in(maildir / "tmp").empty());
  EXPECT_TRUE(files_in(maildir / "new").empty());
}

// The Maildir spec reserves '/' and ':' in names; names never repeat.
TEST(Maildir, UniqueNames) {
  std::set<std::string> names;
  for (int i = 0; i < 10000; ++i) names.insert(maildir_unique_name("mx.example.test"));
  EXPECT_EQ(names.size(), 10000u);
  std::string odd = maildir_unique_name("a/b:c");
  EXPECT_EQ(odd.find('/'), std::string::npos);
  EXPECT_EQ(odd.find(':'), std::string::npos);
  EXPECT_TRUE(odd.ends_with(".a\\057b\\072c")) << odd;
}

}  // namespace
}  // namespace tern
