// RFC 2047 encoded words (split on UTF-8 character boundaries, at most 75
// octets each), RFC 5322 folding, display names and address lists, checked
// against the seed's PHPMailer headers (../shared/seeds/001_*.txt).
#include "formats/encoded_word.hpp"

#include <gtest/gtest.h>

#include "base/base64.hpp"

namespace tern {
namespace {

std::vector<std::string> lines_of(const std::string& field) {
  EXPECT_TRUE(field.ends_with("\r\n")) << field;
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < field.size()) {
    auto end = field.find("\r\n", start);
    out.push_back(field.substr(start, end - start));
    start = end + 2;
  }
  return out;
}

// The field's value with the folds taken out (RFC 5322 §2.2.3).
std::string unfold_value(const std::string& field) {
  std::string out;
  for (const auto& line : lines_of(field)) out += line;
  return out.substr(out.find(':') + 1);
}

void expect_folded_within(const std::string& field, std::size_t limit) {
  const auto lines = lines_of(field);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    EXPECT_LE(lines[i].size(), limit) << lines[i];
    if (i > 0) {
      EXPECT_TRUE(lines[i].starts_with(' ') || lines[i].starts_with('\t')) << lines[i];
    }
    // §3.2.2: no line of only whitespace.
    EXPECT_NE(lines[i].find_first_not_of(" \t"), std::string::npos);
  }
}

// The payload of a word, decoded, for checking splits.
std::string word_payload(const std::string& word) {
  EXPECT_TRUE(word.starts_with("=?utf-8?B?") && word.ends_with("?=")) << word;
  auto decoded = base64_decode(std::string_view(word).substr(10, word.size() - 12));
  EXPECT_TRUE(decoded) << word;
  return decoded.value_or("");
}

TEST(Utf8, Validation) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain"));
  EXPECT_TRUE(is_valid_utf8("\xc3\xa9\xe4\xbd\xa0\xf0\x9f\x98\x80"));
  EXPECT_FALSE(is_valid_utf8("\xc3"));              // truncated
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong "/"
  EXPECT_FALSE(is_valid_utf8("\xe0\x80\xaf"));      // overlong
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\x80"));              // stray continuation
  EXPECT_FALSE(is_valid_utf8("\xe4\xbd" "a"));      // short sequence
  EXPECT_FALSE(is_valid_utf8("latin-1 caf\xe9"));
}

TEST(HeaderText, RefusesInjectionAndControls) {
  EXPECT_EQ(header_text_problem("Hello\tthere"), std::nullopt);
  EXPECT_EQ(header_text_problem("Zo\xc3\xab"), std::nullopt);
  EXPECT_EQ(header_text_problem("a\r\nBcc: victim@example.test"), "contains a line break (header injection)");
  EXPECT_EQ(header_text_problem("a\nb"), "contains a line break (header injection)");
  EXPECT_EQ(header_text_problem("a\rb"), "contains a line break (header injection)");
  EXPECT_EQ(header_text_problem(std::string("a\0b", 3)), "contains a control character");
  EXPECT_EQ(header_text_problem("a\x7f"), "contains a control character");
  EXPECT_EQ(header_text_problem("caf\xe9"), "is not valid UTF-8");
}

// The seed's PHPMailer output, byte for byte.
TEST(EncodedWords, SeedExamples) {
  EXPECT_EQ(encode_words("\xe6\x98\x93\xe8\x81\x94\xe4\xba\x91"), std::vector<std::string>{"=?utf-8?B?5piT6IGU5LqR?="});
  EXPECT_EQ(format_unstructured_field("Subject", "\xe6\x98\x93\xe8\x81\x94\xe4\xba\x91\xe9\xaa\x8c\xe8\xaf\x81\xe7\xa0\x81"),
            "Subject: =?utf-8?B?5piT6IGU5LqR6aqM6K+B56CB?=\r\n");
  NamedAddress from{"\xe6\x98\x93\xe8\x81\x94\xe4\xba\x91", "heqian@yilian.com"};
  EXPECT_EQ(format_address_field("From", std::span(&from, 1)),
            "From: =?utf-8?B?5piT6IGU5LqR?= <heqian@yilian.com>\r\n");
  NamedAddress to{"", "fage1151@qq.com"};
  EXPECT_EQ(format_address_field("To", std::span(&to, 1)), "To: fage1151@qq.com\r\n");
}

TEST(EncodedWords, EmptyTextGivesNoWords) { EXPECT_TRUE(encode_words("").empty()); }

// RFC 2047 §5: every word decodes on its own, so no UTF-8 sequence is split;
// each is at most 75 octets (§2).
TEST(EncodedWords, SplitOnCharacterBoundaries) {
  const std::vector<std::string> characters = {"a", "\xc3\xa9", "\xe4\xbd\xa0", "\xf0\x9f\x98\x80"};
  for (std::size_t mix = 0; mix < 16; ++mix) {
    std::string text;
    for (int i = 0; i < 97; ++i) text += characters[(i * (mix + 1) + mix) % 4];
    for (std::size_t first : {75u, 60u, 33u, 20u}) {
      const auto words = encode_words(text, first);
      ASSERT_GT(words.size(), 1u);
      std::string joined;
      for (std::size_t i = 0; i < words.size(); ++i) {
        EXPECT_LE(words[i].size(), i == 0 ? first : 75u) << words[i];
        const std::string payload = word_payload(words[i]);
        EXPECT_FALSE(payload.empty());
        EXPECT_TRUE(is_valid_utf8(payload)) << "word " << i << " splits a character";
        joined += payload;
      }
      EXPECT_EQ(joined, text);
    }
  }
}

TEST(EncodedWords, FullWordsCarry45Octets) {
  const auto words = encode_words(std::string(90, 'x'));
  ASSERT_EQ(words.size(), 2u);
  EXPECT_EQ(words[0].size(), 72u);  // 12 + 60: 45 octets, one full base64 group short of 75
  EXPECT_EQ(word_payload(words[0]).size(), 45u);
  // Four-octet characters: 11 (44 octets) fit in a word, a 12th would not.
  std::string emoji;
  for (int i = 0; i < 15; ++i) emoji += "\xf0\x9f\x98\x80";
  const auto e = encode_words(emoji);
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(word_payload(e[0]).size(), 44u);
}

TEST(EncodedWords, TooSmallLimitIsRaised) {
  const auto words = encode_words("\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 5, 3);
  ASSERT_EQ(words.size(), 1u);
  EXPECT_EQ(word_payload(words[0]), "\xf0\x9f\x98\x80\xf0\x9f\x98\x80");
}

TEST(DecodeEncodedWords, RoundTripAndRfc2047Spacing) {
  const std::string text = "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln, \xe4\xbd\xa0\xe5\xa5\xbd  and  spaces ";
  EXPECT_EQ(decode_encoded_words(unfold_value(format_unstructured_field("Subject", text)).substr(1)), text);
  // §6.2: whitespace between encoded words goes, next to other text it stays.
  EXPECT_EQ(decode_encoded_words("=?utf-8?B?YQ==?= \r\n =?utf-8?B?Yg==?= c =?UTF-8?Q?d_e=3F?="), "ab c d e?");
  EXPECT_EQ(decode_encoded_words("=?us-ascii?q?x?="), "x");
  EXPECT_EQ(decode_encoded_words("=?utf-8*en?B?YQ==?="), "a");  // RFC 2231 §5 language
}

TEST(DecodeEncodedWords, WhatItCannotDecodeStaysAsItIs) {
  EXPECT_EQ(decode_encoded_words("=?iso-8859-1?Q?caf=E9?="), "=?iso-8859-1?Q?caf=E9?=");
  EXPECT_EQ(decode_encoded_words("=?utf-8?B?not base64?="), "=?utf-8?B?not base64?=");
  EXPECT_EQ(decode_encoded_words("=?utf-8?B?6Q==?="), "=?utf-8?B?6Q==?=");  // not UTF-8
  EXPECT_EQ(decode_encoded_words("=?utf-8?X?YQ==?="), "=?utf-8?X?YQ==?=");
  EXPECT_EQ(decode_encoded_words("=?utf-8?Q?=4?="), "=?utf-8?Q?=4?=");
  EXPECT_EQ(decode_encoded_words("plain =? text"), "plain =? text");
}

TEST(HeaderFolder, FoldsBeforeWhitespaceAt78) {
  HeaderFolder f("X-Test");
  for (int i = 0; i < 30; ++i) f.add("word" + std::to_string(i));
  const std::string field = std::move(f).finish();
  expect_folded_within(field, 78);
  EXPECT_GT(lines_of(field).size(), 1u);
  EXPECT_TRUE(field.starts_with("X-Test: word0 word1 "));
}

TEST(HeaderFolder, NeverFoldsBeforeTheFirstTokenOrGluedTokens) {
  HeaderFolder f("Subject");
  f.add(std::string(100, 'a'));
  f.add(",", "");
  f.add("b");
  EXPECT_EQ(std::move(f).finish(), "Subject: " + std::string(100, 'a') + ",\r\n b\r\n");
}

TEST(Unstructured, AsciiStaysPlainAndFolds) {
  EXPECT_EQ(format_unstructured_field("Subject", "Hello world"), "Subject: Hello world\r\n");
  EXPECT_EQ(format_unstructured_field("Subject", ""), "Subject:\r\n");
  std::string long_text;
  for (int i = 0; i < 40; ++i) long_text += (i ? "  " : "") + std::string("lorem") + std::to_string(i);
  const auto field = format_unstructured_field("Subject", long_text);
  expect_folded_within(field, 78);
  EXPECT_EQ(unfold_value(field), " " + long_text);  // whitespace runs survive
  EXPECT_EQ(field.find("=?"), std::string::npos);
}

TEST(Unstructured, WhatWouldNotSurviveIsEncoded) {
  for (const std::string& text : {std::string(" leading"), std::string("trailing "), std::string("a\tb"),
                                 std::string("looks =?utf-8?B?YQ==?= encoded"), std::string(100, 'w'),
                                 std::string("caf\xc3\xa9")}) {
    const auto field = format_unstructured_field("Subject", text);
    EXPECT_TRUE(field.starts_with("Subject: =?utf-8?B?")) << field;
    expect_folded_within(field, 78);
    EXPECT_EQ(decode_encoded_words(unfold_value(field)), " " + text);
  }
}

TEST(Unstructured, LongNonAsciiSubjectFoldsIntoWordsOf75) {
  std::string text;
  for (int i = 0; i < 60; ++i) text += "\xe4\xbd\xa0\xe5\xa5\xbd \xc3\xa9";
  const auto field = format_unstructured_field("Subject", text);
  expect_folded_within(field, 78);
  const auto lines = lines_of(field);
  EXPECT_GT(lines.size(), 5u);
  // The first word fills the first line rather than leaving it short.
  EXPECT_GE(lines[0].size(), 70u);
  for (const auto& line : lines) {
    const auto word = line.substr(line.find("=?"));
    EXPECT_LE(word.size(), 75u);
    EXPECT_TRUE(is_valid_utf8(word_payload(word)));
  }
  EXPECT_EQ(decode_encoded_words(unfold_value(field)), " " + text);
}

TEST(DisplayName, AtomsQuotedOrEncoded) {
  EXPECT_EQ(format_display_name("John Smith"), "John Smith");
  EXPECT_EQ(format_display_name("O'Neil"), "O'Neil");  // "'" is atext
  EXPECT_EQ(format_display_name("Doe, John"), "\"Doe, John\"");
  EXPECT_EQ(format_display_name("J. R. Doe"), "\"J. R. Doe\"");
  EXPECT_EQ(format_display_name("Ann (work)"), "\"Ann (work)\"");
  EXPECT_EQ(format_display_name("a@b"), "\"a@b\"");
  EXPECT_EQ(format_display_name("say \"hi\" \\o/"), "\"say \\\"hi\\\" \\\\o/\"");
  EXPECT_EQ(format_display_name("two  spaces"), "\"two  spaces\"");
  EXPECT_EQ(format_display_name("tab\there"), "\"tab\there\"");
  EXPECT_EQ(format_display_name(" padded "), "\" padded \"");
  EXPECT_EQ(format_display_name(std::string(100, 'x')), std::string(100, 'x'));  // a long atom stays one
  // ... but not past 998 octets on a line.
  EXPECT_TRUE(format_display_name("a," + std::string(1000, 'x')).starts_with("=?utf-8?B?"));
  EXPECT_EQ(format_display_name("Zo\xc3\xab"), "=?utf-8?B?Wm/Dqw==?=");
  EXPECT_TRUE(format_display_name("=?utf-8?B?YQ==?=").starts_with("=?utf-8?B?PT91"));
}

// Atoms stay atoms between encoded words, and the words that need encoding
// share one encoded word when they can: readers disagree on the whitespace
// between two encoded words, never on the whitespace next to one.
TEST(DisplayName, NonAsciiNamesUseFewEncodedWords) {
  EXPECT_EQ(format_display_name("Zo\xc3\xab Example"), "=?utf-8?B?Wm/Dqw==?= Example");
  EXPECT_EQ(format_display_name("M\xc3\xbcller, Hans (Vertrieb) Team"),
            "=?utf-8?B?TcO8bGxlciw=?= Hans \"(Vertrieb)\" Team");
  EXPECT_EQ(format_display_name("M\xc3\xbcller, J\xc3\xbcrgen =?x"), "=?utf-8?B?TcO8bGxlciwgSsO8cmdlbiA9P3g=?=");
  EXPECT_EQ(format_display_name("\xe5\xb1\xb1\xe7\x94\xb0 \xe5\xa4\xaa\xe9\x83\x8e"), "=?utf-8?B?5bGx55SwIOWkqumDjg==?=");
  // Unusual spacing: the whole name in one run, spaces inside the encoding.
  EXPECT_EQ(format_display_name(" Zo\xc3\xab"), "=?utf-8?B?IFpvw6s=?=");
}

// A name that fits one encoded word stays one, even where filling the first
// line would have split it: it moves to a line of its own instead.
TEST(AddressField, NameKeptInOneWordFoldsAfterTheColon) {
  std::string name;
  for (int i = 0; i < 22; ++i) name += "\xc3\xbc";  // 44 octets: one word of 72
  NamedAddress a{name, "r@example.test"};
  const auto field = format_address_field("Reply-To", std::span(&a, 1));
  expect_folded_within(field, 78);
  EXPECT_TRUE(field.starts_with("Reply-To:\r\n =?utf-8?B?")) << field;
  EXPECT_EQ(encode_words(name).size(), 1u);
  EXPECT_EQ(decode_encoded_words(unfold_value(field)), " " + name + " <r@example.test>");
  // Where it fits the first line, it stays there.
  EXPECT_TRUE(format_address_field("From", std::span(&a, 1)).starts_with("From: =?utf-8?B?"));
}

TEST(AddressField, LongQuotedNamesFoldInsideTheQuotes) {
  NamedAddress a{"Department of Redundancy Department, Office of the Deputy Assistant (Acting)", "d@example.test"};
  const auto field = format_address_field("From", std::span(&a, 1));
  expect_folded_within(field, 78);
  EXPECT_EQ(unfold_value(field), " \"" + a.name + "\" <d@example.test>");
}

TEST(AddressField, ListsFoldBetweenMailboxes) {
  std::vector<NamedAddress> list;
  for (int i = 0; i < 12; ++i)
    list.push_back({i % 3 == 0 ? "" : i % 3 == 1 ? "Doe, Jane" : "M\xc3\xbcller Hans", "user" + std::to_string(i) + "@example.test"});
  const auto field = format_address_field("To", list);
  expect_folded_within(field, 78);
  const std::string value = unfold_value(field);
  EXPECT_NE(value.find(" user0@example.test, \"Doe, Jane\" <user1@example.test>, =?utf-8?B?"), std::string::npos)
      << value;
  EXPECT_TRUE(value.ends_with("<user11@example.test>"));
  EXPECT_EQ(format_address_field("To", {}), "To: undisclosed-recipients:;\r\n");
}

TEST(ParseNamedAddress, CommandLineForms) {
  auto p = parse_named_address("  Zo\xc3\xab Example <zoe@example.test> ");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->name, "Zo\xc3\xab Example");
  EXPECT_EQ(p->address, "zoe@example.test");
  p = parse_named_address("\"Doe, \\\"JD\\\" John\" <jd@example.test>");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->name, "Doe, \"JD\" John");
  p = parse_named_address("<bare@example.test>");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->name, "");
  EXPECT_EQ(p->address, "bare@example.test");
  p = parse_named_address("plain@example.test");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->address, "plain@example.test");
  p = parse_named_address("a <b> <c@example.test>");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->name, "a <b>");
  EXPECT_EQ(p->address, "c@example.test");
  EXPECT_FALSE(parse_named_address(""));
  EXPECT_FALSE(parse_named_address("Name <unclosed@example.test"));
}

}  // namespace
}  // namespace tern
