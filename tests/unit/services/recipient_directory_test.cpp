// Who receives mail here: users, aliases, postmaster, and the Maildir path.
#include "services/recipient_directory.hpp"

#include <gtest/gtest.h>

#include "tests/unit/services/test_config.hpp"

namespace tern {
namespace {

MailAddress addr(std::string_view s) { return *parse_mailbox(s); }

class RecipientDirectoryTest : public ::testing::Test {
 protected:
  testing::TempDir dir;
  std::shared_ptr<const Config> config = testing::make_test_config(dir);
  RecipientDirectory directory{*config};
};

TEST_F(RecipientDirectoryTest, UsersAndAliases) {
  auto demo = directory.resolve(addr("demo@example.test"));
  ASSERT_TRUE(demo);
  EXPECT_EQ(demo->address, "demo@example.test");
  EXPECT_EQ(demo->domain, "example.test");
  EXPECT_EQ(demo->local_part, "demo");
  EXPECT_EQ(demo->maildir("/data/mail"), "/data/mail/example.test/demo/Maildir");
  EXPECT_EQ(directory.resolve(addr("info@example.test"))->address, "demo@example.test");
  EXPECT_EQ(directory.resolve(addr("alice@example.test"))->address, "alice@example.test");
  EXPECT_FALSE(directory.resolve(addr("nobody@example.test")));
  EXPECT_FALSE(directory.resolve(addr("demo@elsewhere.test")));
}

TEST_F(RecipientDirectoryTest, MatchingIgnoresAsciiCaseAndUselessQuotes) {
  EXPECT_EQ(directory.resolve(addr("DEMO@Example.Test"))->address, "demo@example.test");
  EXPECT_EQ(directory.resolve(addr(R"("demo"@example.test)"))->address, "demo@example.test");
}

// RFC 5321 §4.5.1: postmaster exists in every local domain; bare <postmaster> too.
TEST_F(RecipientDirectoryTest, Postmaster) {
  EXPECT_EQ(directory.resolve(addr("postmaster@example.test"))->address, "demo@example.test");
  EXPECT_EQ(directory.resolve(addr("PostMaster@EXAMPLE.test"))->address, "demo@example.test");
  MailAddress bare{"postmaster", ""};
  EXPECT_EQ(directory.resolve(bare)->address, "demo@example.test");
  MailAddress other{"root", ""};
  EXPECT_FALSE(directory.resolve(other));
}

TEST(RecipientDirectory, PostmasterWithoutAliasIsItsOwnMailbox) {
  Config c = load_config_text(R"([[listener]]
protocol = "smtp"
address = "127.0.0.1:2525"
[[domain]]
name = "one.test"
[[domain]]
name = "two.test"
[[user]]
address = "a@one.test"
aliases = ["postmaster@one.test"]
)", "t.toml");
  RecipientDirectory d(c);
  EXPECT_EQ(d.resolve(*parse_mailbox("postmaster@one.test"))->address, "a@one.test");
  EXPECT_EQ(d.resolve(*parse_mailbox("postmaster@two.test"))->address, "postmaster@two.test");
  EXPECT_TRUE(d.is_local_domain("TWO.test"));
  EXPECT_FALSE(d.is_local_domain("three.test"));
}

// A local part names a directory: nothing that could leave the mail tree.
TEST(RecipientDirectory, UnsafeMailboxNamesAreConfigErrors) {
  auto config_with_user = [](std::string user) {
    return load_config_text("[[listener]]\nprotocol = \"smtp\"\naddress = \"127.0.0.1:2525\"\n"
                            "[[domain]]\nname = \"example.test\"\n[[user]]\naddress = '" + user + "'\n",
                            "t.toml");
  };
  EXPECT_THROW(RecipientDirectory{config_with_user("a/b@example.test")}, ConfigError);
  EXPECT_THROW(RecipientDirectory{config_with_user("\"a b\"@example.test")}, ConfigError);
  EXPECT_THROW(RecipientDirectory{config_with_user("a..b@example.test")}, ConfigError);
  EXPECT_NO_THROW(RecipientDirectory{config_with_user("a.b+c@example.test")});
}

}  // namespace
}  // namespace tern
