// parse_command: verbs case-insensitive, arguments kept as sent (RFC 5321 §4.1.1).
#include "protocol/smtp/command.hpp"

#include <gtest/gtest.h>

namespace tern::smtp {
namespace {

TEST(ParseCommand, EveryVerbInAnyCase) {
  struct Case {
    const char* word;
    Verb verb;
  } cases[] = {{"HELO", Verb::helo}, {"ehlo", Verb::ehlo}, {"Mail", Verb::mail},   {"rCPT", Verb::rcpt},
               {"DATA", Verb::data}, {"bdat", Verb::bdat}, {"RSET", Verb::rset},   {"noop", Verb::noop},
               {"QuIt", Verb::quit}, {"VRFY", Verb::vrfy}, {"expn", Verb::expn},   {"HELP", Verb::help},
               {"StartTLS", Verb::starttls}, {"auth", Verb::auth}};
  for (const auto& c : cases) EXPECT_EQ(parse_command(c.word).command.verb, c.verb) << c.word;
}

TEST(ParseCommand, UnknownKeepsTheWord) {
  auto p = parse_command("FROB the thing");
  EXPECT_EQ(p.command.verb, Verb::unknown);
  EXPECT_EQ(p.command.word, "FROB");
  EXPECT_EQ(p.command.argument, "the thing");
  EXPECT_EQ(parse_command("").command.verb, Verb::unknown);
  EXPECT_EQ(parse_command("HELOX").command.verb, Verb::unknown);
  EXPECT_EQ(parse_command("HEL").command.verb, Verb::unknown);
}

TEST(ParseCommand, ArgumentIsTrimmed) {
  auto p = parse_command("EHLO   client.example  ");
  EXPECT_EQ(p.command.verb, Verb::ehlo);
  EXPECT_EQ(p.command.argument, "client.example");
  EXPECT_EQ(parse_command("NOOP").command.argument, "");
  EXPECT_EQ(parse_command("NOOP ").command.argument, "");
}

TEST(ParseCommand, MailAndRcptKeywords) {
  auto m = parse_command("MAIL FROM:<a@b.example> SIZE=1");
  EXPECT_EQ(m.command.verb, Verb::mail);
  EXPECT_FALSE(m.path_keyword_missing);
  EXPECT_EQ(m.command.argument, "<a@b.example> SIZE=1");

  auto lower = parse_command("mail from: a@b.example");
  EXPECT_FALSE(lower.path_keyword_missing);
  EXPECT_EQ(lower.command.argument, " a@b.example");

  auto r = parse_command("RCPT To:<c@d.example>");
  EXPECT_EQ(r.command.verb, Verb::rcpt);
  EXPECT_FALSE(r.path_keyword_missing);
  EXPECT_EQ(r.command.argument, "<c@d.example>");

  EXPECT_TRUE(parse_command("MAIL").path_keyword_missing);
  EXPECT_TRUE(parse_command("MAIL <a@b.example>").path_keyword_missing);
  EXPECT_TRUE(parse_command("RCPT FROM:<a@b.example>").path_keyword_missing);
  EXPECT_TRUE(parse_command("MAIL FROM <a@b.example>").path_keyword_missing);
  EXPECT_FALSE(parse_command("DATA FROM:").path_keyword_missing);
}

TEST(ParseCommand, ArgumentsKeepTheirCase) {
  EXPECT_EQ(parse_command("VRFY John.Smith").command.argument, "John.Smith");
  EXPECT_EQ(parse_command("RCPT TO:<Jones@XYZ.COM>").command.argument, "<Jones@XYZ.COM>");
}

}  // namespace
}  // namespace tern::smtp
