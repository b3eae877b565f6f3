// The message builder behind `tern send`: header fields (RFC 5322), MIME
// structure and encodings (RFC 2045-2047, 2231), envelope recipients, and
// everything it must refuse (header injection above all).
#include "formats/mime_builder.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <functional>
#include <optional>

#include "base/base64.hpp"
#include "formats/quoted_printable.hpp"

namespace tern {
namespace {

std::chrono::system_clock::time_point at(std::int64_t unix_seconds) {
  return std::chrono::system_clock::time_point(std::chrono::seconds(unix_seconds));
}

// Reproducible randomness (splitmix64) so two builds can be compared.
std::function<std::uint64_t()> seeded(std::uint64_t seed) {
  return [seed]() mutable {
    std::uint64_t z = (seed += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
}

BuildOptions options(std::uint64_t seed = 1) {
  BuildOptions o;
  o.hostname = "client.example.test";
  o.date = at(0);
  o.random = seeded(seed);
  return o;
}

MessageDraft simple() {
  MessageDraft d;
  d.from = {"Alice", "alice@example.test"};
  d.to = {{"", "bob@example.test"}};
  d.subject = "Hello";
  d.text = "Hi Bob\n";
  return d;
}

BuiltMessage build(const MessageDraft& d, const BuildOptions& o = options()) {
  auto built = build_message(d, o);
  EXPECT_TRUE(built) << built.error().client_text;
  return built.value_or(BuiltMessage{});
}

std::string refusal(const MessageDraft& d, const BuildOptions& o = options()) {
  auto built = build_message(d, o);
  EXPECT_FALSE(built) << built->data;
  return built ? std::string() : built.error().client_text;
}

std::string headers_of(const std::string& message) { return message.substr(0, message.find("\r\n\r\n") + 2); }

// The unfolded value of the first field `name` in a header section.
std::optional<std::string> field(const std::string& headers, std::string_view name) {
  std::size_t start = 0;
  while (start < headers.size()) {
    auto end = headers.find("\r\n", start);
    while (end + 2 < headers.size() && (headers[end + 2] == ' ' || headers[end + 2] == '\t'))
      end = headers.find("\r\n", end + 2);
    std::string f = headers.substr(start, end - start);
    for (auto p = f.find("\r\n"); p != std::string::npos; p = f.find("\r\n")) f.erase(p, 2);
    if (f.size() > name.size() && f[name.size()] == ':' && f.compare(0, name.size(), name) == 0)
      return f.substr(name.size() + 2);
    start = end + 2;
  }
  return std::nullopt;
}

// RFC 5322 §2.1.1 and §2.3: CRLF only, no line over 998 octets; headers within
// 78 (the tests' inputs never need more).
void expect_well_formed(const std::string& m) {
  ASSERT_TRUE(m.ends_with("\r\n"));
  const auto header_end = m.find("\r\n\r\n");
  ASSERT_NE(header_end, std::string::npos);
  for (std::size_t start = 0; start < m.size();) {
    const auto end = m.find("\r\n", start);
    const std::string line = m.substr(start, end - start);
    EXPECT_EQ(line.find_first_of("\r\n"), std::string::npos) << "bare CR or LF in: " << line;
    EXPECT_LE(line.size(), start < header_end ? 78u : 998u) << line;
    start = end + 2;
  }
}

// The boundary of the Content-Type value, without quotes.
std::string boundary_of(const std::string& content_type) {
  const auto p = content_type.find("boundary=\"");
  if (p == std::string::npos) return {};
  return content_type.substr(p + 10, content_type.find('"', p + 10) - p - 10);
}

// Body parts of a multipart body: what lies between the delimiter lines.
std::vector<std::string> parts_of(const std::string& body, const std::string& boundary) {
  std::vector<std::string> out;
  const std::string delimiter = "\r\n--" + boundary;
  std::string b = "\r\n" + body;
  std::size_t p = b.find(delimiter);
  while (p != std::string::npos) {
    const std::size_t content = b.find("\r\n", p + 2) + 2;
    if (b.compare(p + delimiter.size(), 2, "--") == 0) break;
    const std::size_t next = b.find(delimiter, content);
    if (next == std::string::npos) break;
    out.push_back(b.substr(content, next - content));
    p = next;
  }
  return out;
}

std::string body_of(const std::string& entity) { return entity.substr(entity.find("\r\n\r\n") + 4); }

TEST(MimeBuilder, TextOnlyMessage) {
  const auto m = build(simple());
  EXPECT_EQ(m.data.substr(0, m.data.find("Message-ID")),
            "Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n"
            "From: Alice <alice@example.test>\r\n"
            "To: bob@example.test\r\n"
            "Subject: Hello\r\n");
  EXPECT_TRUE(m.data.ends_with(
      "@client.example.test>\r\n"
      "MIME-Version: 1.0\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n"
      "Content-Transfer-Encoding: 7bit\r\n"
      "\r\n"
      "Hi Bob\r\n"));
  EXPECT_EQ(m.envelope_from, "alice@example.test");
  EXPECT_EQ(m.envelope_to, std::vector<std::string>{"bob@example.test"});
  EXPECT_FALSE(m.body_8bit);
  EXPECT_FALSE(m.needs_smtputf8);
  expect_well_formed(m.data);
}

TEST(MimeBuilder, MessageIdIsRandomAtTheHostname) {
  const auto a = build(simple(), options(1)), b = build(simple(), options(2));
  EXPECT_TRUE(a.message_id.starts_with("<") && a.message_id.ends_with("@client.example.test>")) << a.message_id;
  EXPECT_EQ(a.message_id.size(), 1 + 26 + 1 + 19 + 1);
  EXPECT_NE(a.message_id, b.message_id);
  EXPECT_EQ(field(a.data, "Message-ID"), a.message_id);
  // Without a hostname, the From domain; without an injected source, random_device.
  BuildOptions o;
  const auto c = build(simple(), o), e = build(simple(), o);
  EXPECT_TRUE(c.message_id.ends_with("@example.test>"));
  EXPECT_NE(c.message_id, e.message_id);
}

TEST(MimeBuilder, SeedStyleHeaders) {
  MessageDraft d;
  d.from = {"\xe6\x98\x93\xe8\x81\x94\xe4\xba\x91", "heqian@yilian.com"};
  d.reply_to = {{"\xe6\x98\x93\xe8\x81\x94\xe4\xba\x91", "1151878751@qq.com"}};
  d.to = {{"", "fage1151@qq.com"}};
  d.subject = "\xe6\x98\x93\xe8\x81\x94\xe4\xba\x91\xe9\xaa\x8c\xe8\xaf\x81\xe7\xa0\x81";
  d.text = "\xe4\xbd\xa0\xe5\xa5\xbd smtp\n";
  d.html = "<h1>\xe4\xbd\xa0\xe5\xa5\xbd smtp</h1>\n";
  d.extra_headers = {{"X-Mailer", "Tern"}};
  const auto m = build(d);
  const auto h = headers_of(m.data);
  EXPECT_EQ(field(h, "From"), "=?utf-8?B?5piT6IGU5LqR?= <heqian@yilian.com>");
  EXPECT_EQ(field(h, "Reply-To"), "=?utf-8?B?5piT6IGU5LqR?= <1151878751@qq.com>");
  EXPECT_EQ(field(h, "To"), "fage1151@qq.com");
  EXPECT_EQ(field(h, "Subject"), "=?utf-8?B?5piT6IGU5LqR6aqM6K+B56CB?=");
  EXPECT_EQ(field(h, "X-Mailer"), "Tern");
  EXPECT_EQ(field(h, "MIME-Version"), "1.0");
  expect_well_formed(m.data);
}

TEST(MimeBuilder, TextAndHtmlMakeAlternativeTextFirst) {
  auto d = simple();
  d.html = "<p>Hi Bob</p>\n";
  const auto m = build(d);
  const auto h = headers_of(m.data);
  const auto type = field(h, "Content-Type").value_or("");
  EXPECT_TRUE(type.starts_with("multipart/alternative; boundary=\"=_tern_")) << type;
  EXPECT_EQ(field(h, "Content-Transfer-Encoding"), std::nullopt);  // 7bit by default
  const auto body = body_of(m.data);
  EXPECT_TRUE(body.starts_with("This is a multi-part message in MIME format.\r\n"));
  const auto parts = parts_of(body, boundary_of(type));
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0], "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\nHi Bob\r\n");
  EXPECT_EQ(parts[1], "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n<p>Hi Bob</p>\r\n");
  EXPECT_TRUE(body.ends_with("\r\n--" + boundary_of(type) + "--\r\n"));
  expect_well_formed(m.data);
}

TEST(MimeBuilder, AttachmentsMakeMixed) {
  auto d = simple();
  d.html = "<p>Hi</p>";
  std::string binary;
  for (int i = 0; i < 1000; ++i) binary += static_cast<char>(i * 7);
  d.attachments = {{"report.pdf", "", binary}, {"notes", "Text/Plain", "plain\n"}};
  const auto m = build(d);
  const auto h = headers_of(m.data);
  const auto type = field(h, "Content-Type").value_or("");
  EXPECT_TRUE(type.starts_with("multipart/mixed;")) << type;
  const auto parts = parts_of(body_of(m.data), boundary_of(type));
  ASSERT_EQ(parts.size(), 3u);
  const auto inner = field(parts[0], "Content-Type").value_or("");
  EXPECT_TRUE(inner.starts_with("multipart/alternative;")) << inner;
  EXPECT_NE(boundary_of(inner), boundary_of(type));
  EXPECT_EQ(parts_of(body_of(parts[0]), boundary_of(inner)).size(), 2u);
  EXPECT_EQ(field(parts[1], "Content-Type"), "application/pdf; name=\"report.pdf\"");
  EXPECT_EQ(field(parts[1], "Content-Disposition"), "attachment; filename=\"report.pdf\"");
  EXPECT_EQ(field(parts[1], "Content-Transfer-Encoding"), "base64");
  // RFC 2045 §6.8: 76-character lines.
  const auto encoded = body_of(parts[1]);
  std::string joined;
  for (std::size_t start = 0; start < encoded.size();) {
    const auto end = encoded.find("\r\n", start);
    const auto line = encoded.substr(start, end - start);
    EXPECT_LE(line.size(), 76u);
    if (end + 2 < encoded.size()) {
      EXPECT_EQ(line.size(), 76u);
    }
    joined += line;
    start = end + 2;
  }
  EXPECT_EQ(base64_decode(joined), binary);
  EXPECT_EQ(field(parts[2], "Content-Type"), "text/plain; name=\"notes\"");
  expect_well_formed(m.data);
}

TEST(MimeBuilder, AttachmentOnlyAndEmptyMessages) {
  auto d = simple();
  d.text.reset();
  d.attachments = {{"empty.bin", "", ""}};
  auto m = build(d);
  const auto type = field(headers_of(m.data), "Content-Type").value_or("");
  const auto parts = parts_of(body_of(m.data), boundary_of(type));
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_EQ(body_of(parts[0]), "");
  d.attachments.clear();
  m = build(d);
  EXPECT_TRUE(m.data.ends_with("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"));
}

TEST(MimeBuilder, NonAsciiFileNamesUseRfc2231) {
  auto d = simple();
  d.attachments = {{"r\xc3\xa9sum\xc3\xa9 2024.pdf", "", "x"}};
  const auto m = build(d);
  const auto type = field(headers_of(m.data), "Content-Type").value_or("");
  const auto parts = parts_of(body_of(m.data), boundary_of(type));
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(field(parts[1], "Content-Disposition"), "attachment; filename*=utf-8''r%C3%A9sum%C3%A9%202024.pdf");
  EXPECT_EQ(field(parts[1], "Content-Type"), "application/pdf; name*=utf-8''r%C3%A9sum%C3%A9%202024.pdf");
}

TEST(MimeParameter, QuotedExtendedAndContinued) {
  EXPECT_EQ(mime_parameter("filename", "a.txt"), std::vector<std::string>{"filename=\"a.txt\""});
  EXPECT_EQ(mime_parameter("filename", "say \"hi\".txt"), std::vector<std::string>{"filename=\"say \\\"hi\\\".txt\""});
  EXPECT_EQ(mime_parameter("filename", "\xe4\xbd\xa0.txt"), std::vector<std::string>{"filename*=utf-8''%E4%BD%A0.txt"});
  std::string name;
  for (int i = 0; i < 30; ++i) name += "\xe4\xbd\xa0";
  const auto pieces = mime_parameter("filename", name + ".txt");
  ASSERT_GT(pieces.size(), 1u);
  std::string joined;
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    const std::string prefix = "filename*" + std::to_string(i) + "*=" + (i == 0 ? "utf-8''" : "");
    ASSERT_TRUE(pieces[i].starts_with(prefix)) << pieces[i];
    EXPECT_LE(pieces[i].size(), 72u);
    const std::string value = pieces[i].substr(prefix.size());
    EXPECT_TRUE(value.starts_with("%E4") || value.starts_with(".")) << "split inside a character: " << value;
    joined += value;
  }
  std::string expected;
  for (int i = 0; i < 30; ++i) expected += "%E4%BD%A0";
  EXPECT_EQ(joined, expected + ".txt");
  // A long ASCII name is continued the same way rather than making a long line.
  EXPECT_GT(mime_parameter("filename", std::string(100, 'n')).size(), 1u);
}

TEST(MimeBuilder, ContentTypeGuessedFromExtension) {
  EXPECT_EQ(guess_content_type("a.PDF"), "application/pdf");
  EXPECT_EQ(guess_content_type("photo.jpeg"), "image/jpeg");
  EXPECT_EQ(guess_content_type("archive.tar.gz"), "application/gzip");
  EXPECT_EQ(guess_content_type("index.html"), "text/html");
  EXPECT_EQ(guess_content_type("README"), "application/octet-stream");
  EXPECT_EQ(guess_content_type("weird."), "application/octet-stream");
  EXPECT_EQ(guess_content_type("mail.eml"), "application/octet-stream");  // message/* cannot be base64
}

TEST(MimeBuilder, BccOnlyInTheEnvelopeAndRecipientsOnce) {
  auto d = simple();
  d.to = {{"Bob", "bob@example.test"}, {"", "carol@example.test"}};
  d.cc = {{"", "Bob@EXAMPLE.test"}, {"Dave", "dave@example.test"}};
  d.bcc = {{"Secret", "eve@example.test"}, {"", "carol@example.test"}};
  const auto m = build(d);
  EXPECT_EQ(m.envelope_to,
            (std::vector<std::string>{"bob@example.test", "carol@example.test", "dave@example.test", "eve@example.test"}));
  EXPECT_EQ(m.data.find("eve@"), std::string::npos);
  EXPECT_EQ(m.data.find("Secret"), std::string::npos);
  EXPECT_EQ(m.data.find("Bcc"), std::string::npos);
  EXPECT_EQ(field(m.data, "Cc"), "Bob@EXAMPLE.test, Dave <dave@example.test>");

  d.to.clear();
  d.cc.clear();
  const auto only = build(d);
  EXPECT_EQ(field(only.data, "To"), "undisclosed-recipients:;");
  EXPECT_EQ(only.envelope_to, (std::vector<std::string>{"eve@example.test", "carol@example.test"}));
}

TEST(MimeBuilder, ManyRecipientsAndLongSubjectFold) {
  auto d = simple();
  d.to.clear();
  for (int i = 0; i < 40; ++i) d.to.push_back({i % 2 ? "Person " + std::to_string(i) : "", "p" + std::to_string(i) + "@example.test"});
  d.subject.clear();
  for (int i = 0; i < 30; ++i) d.subject += "K\xc3\xb6ln ist sch\xc3\xb6n ";
  d.references = {"<a@x.test>", "b@x.test", "<c@x.test>", "<d@x.test>", "<e@x.test>", "<f@x.test>", "<g@x.test>"};
  d.in_reply_to = "g@x.test";
  const auto m = build(d);
  expect_well_formed(m.data);
  const auto h = headers_of(m.data);
  EXPECT_EQ(field(h, "In-Reply-To"), "<g@x.test>");
  EXPECT_EQ(field(h, "References"), "<a@x.test> <b@x.test> <c@x.test> <d@x.test> <e@x.test> <f@x.test> <g@x.test>");
  EXPECT_EQ(decode_encoded_words(*field(h, "Subject")), d.subject);
  EXPECT_EQ(m.envelope_to.size(), 40u);
}

TEST(MimeBuilder, TransferEncodingChoice) {
  EXPECT_EQ(choose_text_encoding("short ascii\r\n", false), TransferEncoding::seven_bit);
  EXPECT_EQ(choose_text_encoding(std::string(78, 'a'), false), TransferEncoding::seven_bit);
  EXPECT_EQ(choose_text_encoding(std::string(79, 'a'), false), TransferEncoding::quoted_printable);
  EXPECT_EQ(choose_text_encoding(std::string(79, 'a'), true), TransferEncoding::eight_bit);
  EXPECT_EQ(choose_text_encoding(std::string(999, 'a'), true), TransferEncoding::quoted_printable);
  EXPECT_EQ(choose_text_encoding("caf\xc3\xa9\r\n", false), TransferEncoding::quoted_printable);
  EXPECT_EQ(choose_text_encoding("caf\xc3\xa9\r\n", true), TransferEncoding::eight_bit);
  EXPECT_EQ(choose_text_encoding("trailing \r\n", true), TransferEncoding::quoted_printable);
  EXPECT_EQ(choose_text_encoding(std::string("nul\0", 4), true), TransferEncoding::quoted_printable);
  EXPECT_EQ(choose_text_encoding(".\r\n", false), TransferEncoding::seven_bit);  // SMTP dot-stuffs it
}

TEST(MimeBuilder, QuotedPrintableBodyDecodesToTheText) {
  auto d = simple();
  d.text = "Gr\xc3\xbc\xc3\x9f" "e = Hallo  \n" + std::string(200, 'z') + "\n.\nend";
  const auto m = build(d);
  EXPECT_EQ(field(headers_of(m.data), "Content-Transfer-Encoding"), "quoted-printable");
  EXPECT_EQ(qp_decode(body_of(m.data)), canonical_line_ends(*d.text) + "\r\n");
  expect_well_formed(m.data);
  EXPECT_FALSE(m.body_8bit);
}

TEST(MimeBuilder, EightBitWhenTheServerAllowsIt) {
  auto d = simple();
  d.text = "Gr\xc3\xbc\xc3\x9f" "e\n";
  d.html = "<p>Gr\xc3\xbc\xc3\x9f" "e</p>\n";
  auto o = options();
  o.allow_8bit = true;
  const auto m = build(d, o);
  EXPECT_TRUE(m.body_8bit);
  const auto h = headers_of(m.data);
  EXPECT_EQ(field(h, "Content-Transfer-Encoding"), "8bit");  // RFC 2045 §6.4: the multipart says so too
  const auto parts = parts_of(body_of(m.data), boundary_of(*field(h, "Content-Type")));
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(body_of(parts[0]), "Gr\xc3\xbc\xc3\x9f" "e\r\n");
  EXPECT_EQ(field(parts[1], "Content-Transfer-Encoding"), "8bit");
}

TEST(MimeBuilder, LineEndsBecomeCrlf) {
  EXPECT_EQ(canonical_line_ends("a\nb\rc\r\nd\n\ne"), "a\r\nb\r\nc\r\nd\r\n\r\ne");
  auto d = simple();
  d.text = "one\ntwo\rthree";
  EXPECT_TRUE(build(d).data.ends_with("\r\n\r\none\r\ntwo\r\nthree\r\n"));
}

// RFC 2046 §5.1.1: the boundary must not occur in the content. Same seed,
// same first boundary; put it in the text and the builder must draw another.
TEST(MimeBuilder, BoundaryIsNeverInTheContent) {
  auto d = simple();
  d.html = "<p>x</p>";
  const auto first = build(d);
  const std::string taken = boundary_of(*field(headers_of(first.data), "Content-Type"));
  ASSERT_FALSE(taken.empty());
  d.text = "look: --" + taken + "\n" + taken + "--\n";
  const auto second = build(d);
  const std::string boundary = boundary_of(*field(headers_of(second.data), "Content-Type"));
  EXPECT_NE(boundary, taken);
  EXPECT_EQ(parts_of(body_of(second.data), boundary).size(), 2u);

  // A random source that never changes cannot find one: refused, not looped.
  auto o = options();
  o.random = [] { return std::uint64_t{0}; };
  const auto stuck = build(d, o);
  const std::string zeros = boundary_of(*field(headers_of(stuck.data), "Content-Type"));
  d.text = zeros;
  EXPECT_EQ(refusal(d, o), "no MIME boundary absent from the content (broken random source)");
}

TEST(MimeBuilder, NonAsciiAddressNeedsSmtputf8) {
  auto d = simple();
  d.to = {{"", "j\xc3\xbcrgen@example.test"}};
  EXPECT_TRUE(build(d).needs_smtputf8);
}

TEST(MimeBuilder, ExtraHeaders) {
  auto d = simple();
  d.extra_headers = {{"X-Mailer", "Tern 0.1"},
                     {"List-Unsubscribe", "<https://example.test/" + std::string(90, 'u') + ">"},
                     {"X-Note", "gr\xc3\xbc\xc3\x9f" "e"}};
  const auto m = build(d);
  const auto h = headers_of(m.data);
  EXPECT_EQ(field(h, "X-Mailer"), "Tern 0.1");
  EXPECT_EQ(field(h, "List-Unsubscribe"), "<https://example.test/" + std::string(90, 'u') + ">");  // not encoded
  EXPECT_EQ(decode_encoded_words(*field(h, "X-Note")), "gr\xc3\xbc\xc3\x9f" "e");
}

TEST(MimeBuilderRefuses, MissingFromOrRecipients) {
  auto d = simple();
  d.from = {};
  EXPECT_EQ(refusal(d), "no From address");
  d = simple();
  d.to.clear();
  EXPECT_EQ(refusal(d), "no recipients (To, Cc or Bcc)");
  d.reply_to = {{"", "r@example.test"}};  // Reply-To is not a recipient
  EXPECT_EQ(refusal(d), "no recipients (To, Cc or Bcc)");
}

TEST(MimeBuilderRefuses, InvalidAddresses) {
  auto d = simple();
  d.from.address = "alice";
  EXPECT_EQ(refusal(d), "From: \"alice\" is not a valid address (local@domain)");
  d = simple();
  d.to.push_back({"", "two words@example.test"});
  EXPECT_EQ(refusal(d), "To address 2: \"two words@example.test\" is not a valid address (local@domain)");
  d = simple();
  d.bcc = {{"", "<x@example.test>"}};
  EXPECT_EQ(refusal(d), "Bcc: \"<x@example.test>\" is not a valid address (local@domain)");
  d = simple();
  d.reply_to = {{"", "a@b@c"}};
  EXPECT_NE(refusal(d).find("Reply-To"), std::string::npos);
}

// Header injection: a CR or LF in any input would let it add fields (a
// Bcc the sender never sees) or end the header section early.
TEST(MimeBuilderRefuses, HeaderInjectionEverywhere) {
  const std::string evil = "x\r\nBcc: victim@example.test";
  const std::string lf = "x\nBcc: victim@example.test";
  const auto injected = [](const std::string& why) {
    return why.find("line break (header injection)") != std::string::npos;
  };
  std::vector<std::function<void(MessageDraft&, const std::string&)>> setters = {
      [](MessageDraft& d, const std::string& v) { d.subject = v; },
      [](MessageDraft& d, const std::string& v) { d.from.name = v; },
      [](MessageDraft& d, const std::string& v) { d.from.address = "a" + v + "@example.test"; },
      [](MessageDraft& d, const std::string& v) { d.to[0].name = v; },
      [](MessageDraft& d, const std::string& v) { d.to[0].address = v; },
      [](MessageDraft& d, const std::string& v) { d.cc = {{v, "c@example.test"}}; },
      [](MessageDraft& d, const std::string& v) { d.bcc = {{"", "b@example.test" + v}}; },
      [](MessageDraft& d, const std::string& v) { d.reply_to = {{v, "r@example.test"}}; },
      [](MessageDraft& d, const std::string& v) { d.in_reply_to = "<a@b>" + v; },
      [](MessageDraft& d, const std::string& v) { d.references = {"<a@b>" + v}; },
      [](MessageDraft& d, const std::string& v) { d.extra_headers = {{"X-A", v}}; },
      [](MessageDraft& d, const std::string& v) { d.attachments = {{"f" + v + ".txt", "", "data"}}; },
  };
  for (std::size_t i = 0; i < setters.size(); ++i) {
    for (const auto& v : {evil, lf, std::string("\r")}) {
      auto d = simple();
      setters[i](d, v);
      EXPECT_TRUE(injected(refusal(d))) << "setter " << i;
    }
  }
  auto d = simple();
  d.attachments = {{"f.txt", "text/plain\r\nX: y", "data"}};
  EXPECT_FALSE(build_message(d, options()));
  d = simple();
  d.extra_headers = {{"X-A\r\nBcc", "v"}};
  EXPECT_EQ(refusal(d), "\"X-A\\x0d\\x0aBcc\" is not a valid header field name");
  auto o = options();
  o.hostname = "host\r\nX: y";
  EXPECT_EQ(refusal(simple(), o), "\"host\\x0d\\x0aX: y\" is not a valid host name for the Message-ID");
}

TEST(MimeBuilderRefuses, BadHeaderText) {
  auto d = simple();
  d.subject = std::string("nul\0", 4);
  EXPECT_EQ(refusal(d), "the subject contains a control character");
  d.subject = "caf\xe9";
  EXPECT_EQ(refusal(d), "the subject is not valid UTF-8");
  d = simple();
  d.from.name = "\xff";
  EXPECT_EQ(refusal(d), "the display name of From is not valid UTF-8");
}

TEST(MimeBuilderRefuses, ReservedOrMalformedExtraHeaders) {
  for (const char* name : {"Bcc", "from", "Content-Type", "content-transfer-encoding", "MIME-Version", "Message-ID"}) {
    auto d = simple();
    d.extra_headers = {{name, "x"}};
    EXPECT_EQ(refusal(d), fmt::format("the {} header is written by the builder", name));
  }
  for (const char* name : {"", "X Space", "X:Colon"}) {
    auto d = simple();
    d.extra_headers = {{name, "x"}};
    EXPECT_TRUE(refusal(d).ends_with("is not a valid header field name"));
  }
  auto d = simple();
  d.extra_headers = {{"X-Long", std::string(1200, 'l')}};
  EXPECT_EQ(refusal(d), "the X-Long header has a word longer than 998 octets");
}

TEST(MimeBuilderRefuses, BadBodiesAndAttachments) {
  auto d = simple();
  d.text = "caf\xe9";
  EXPECT_EQ(refusal(d), "the text body is not valid UTF-8");
  d = simple();
  d.html = "\xc0\xaf";
  EXPECT_EQ(refusal(d), "the HTML body is not valid UTF-8");
  d = simple();
  d.attachments = {{"", "", "x"}};
  EXPECT_EQ(refusal(d), "attachment 1 has no file name");
  d.attachments = {{"a.bin", "application", "x"}};
  EXPECT_EQ(refusal(d), "attachment 1: \"application\" is not a content type (type/subtype)");
  d.attachments = {{"a.bin", "text/plain; charset=x", "x"}};
  EXPECT_TRUE(refusal(d).ends_with("is not a content type (type/subtype)"));
  d.attachments = {{"a.eml", "message/rfc822", "x"}};
  EXPECT_EQ(refusal(d), "attachment 1: message/rfc822 cannot be sent as a base64 attachment");
  d = simple();
  d.in_reply_to = "no-at-sign";
  EXPECT_EQ(refusal(d), "In-Reply-To: \"no-at-sign\" is not a message id (<left@right>)");
  d = simple();
  d.references = {"<a b@c>"};
  EXPECT_TRUE(refusal(d).starts_with("References:"));
}

}  // namespace
}  // namespace tern
