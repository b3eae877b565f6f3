// DNS rdata and message parsing from hand-made wire data, and from bytes that
// libunbound 1.17 really returned (captured from a local unbound), including
// malformed input: truncation, bad lengths, compression pointer loops.
#include "services/dns/dns_records.hpp"

#include <gtest/gtest.h>

#include <initializer_list>

namespace tern::dns {
namespace {

using Wire = std::vector<std::uint8_t>;

Wire bytes(std::initializer_list<int> b) {
  Wire w;
  for (int x : b) w.push_back(static_cast<std::uint8_t>(x));
  return w;
}

Wire hex(std::string_view h) {
  Wire w;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2)
    w.push_back(static_cast<std::uint8_t>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
  return w;
}

// "mx1.example.test" -> 3 m x 1 7 e x a m p l e 4 t e s t 0
Wire name(std::string_view dotted) {
  Wire w;
  while (!dotted.empty()) {
    auto dot = dotted.find('.');
    auto label = dotted.substr(0, dot);
    w.push_back(static_cast<std::uint8_t>(label.size()));
    w.insert(w.end(), label.begin(), label.end());
    dotted = dot == std::string_view::npos ? std::string_view{} : dotted.substr(dot + 1);
  }
  w.push_back(0);
  return w;
}

Wire cat(std::initializer_list<Wire> parts) {
  Wire w;
  for (const auto& p : parts) w.insert(w.end(), p.begin(), p.end());
  return w;
}

TEST(DnsRecords, A) {
  auto a = parse_a(bytes({127, 0, 0, 2}));
  ASSERT_TRUE(a) << a.error();
  EXPECT_FALSE(a->v6);
  EXPECT_EQ(a->to_string(), "127.0.0.2");
  EXPECT_FALSE(parse_a(bytes({127, 0, 0})));
  EXPECT_FALSE(parse_a(bytes({127, 0, 0, 2, 9})));
  EXPECT_FALSE(parse_a({}));
}

TEST(DnsRecords, Aaaa) {
  auto a = parse_aaaa(bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}));
  ASSERT_TRUE(a) << a.error();
  EXPECT_TRUE(a->v6);
  EXPECT_EQ(a->to_string(), "2001:db8::1");
  EXPECT_FALSE(parse_aaaa(bytes({127, 0, 0, 1})));
  EXPECT_FALSE(parse_aaaa(Wire(17, 0)));
}

TEST(DnsRecords, MxAsLibunboundReturnsIt) {
  // ub_result->data[0] for "alias.a.test MX" after a CNAME: "5 mx.b.test."
  auto mx = parse_mx(hex("0005026d780162047465737400"));
  ASSERT_TRUE(mx) << mx.error();
  EXPECT_EQ(mx->preference, 5);
  EXPECT_EQ(mx->exchange, "mx.b.test");
}

TEST(DnsRecords, MxPreferenceIsBigEndian) {
  auto mx = parse_mx(cat({bytes({0x01, 0x02}), name("mx1.example.test")}));
  ASSERT_TRUE(mx);
  EXPECT_EQ(mx->preference, 258);
  EXPECT_EQ(mx->exchange, "mx1.example.test");
}

// RFC 7505 §3: the null MX is preference 0 and the root name.
TEST(DnsRecords, NullMx) {
  auto mx = parse_mx(bytes({0, 0, 0}));
  ASSERT_TRUE(mx) << mx.error();
  EXPECT_EQ(mx->preference, 0);
  EXPECT_EQ(mx->exchange, ".");
}

TEST(DnsRecords, MalformedMx) {
  EXPECT_FALSE(parse_mx({}));
  EXPECT_FALSE(parse_mx(bytes({0})));
  EXPECT_FALSE(parse_mx(bytes({0, 10})));                                 // no exchange
  EXPECT_FALSE(parse_mx(bytes({0, 10, 3, 'm', 'x'})));                    // label past the end
  EXPECT_FALSE(parse_mx(bytes({0, 10, 2, 'm', 'x'})));                    // no terminating root label
  EXPECT_FALSE(parse_mx(cat({bytes({0, 10}), name("mx"), bytes({7})})));  // trailing byte
  // Compression is not allowed in rdata libunbound hands back.
  EXPECT_FALSE(parse_mx(bytes({0, 10, 0xC0, 0})));
  // 0x40 and 0x80 label types (RFC 6891 §5: no longer used).
  EXPECT_FALSE(parse_mx(bytes({0, 10, 0x41, 'a', 0})));
  EXPECT_FALSE(parse_mx(bytes({0, 10, 0x81, 'a', 0})));
}

TEST(DnsRecords, NameLengthLimit) {
  // RFC 1035 §3.1: 255 octets in all. 3 labels of 63 and one of 61: 255.
  std::string l63(63, 'a'), l61(61, 'b'), l62(62, 'b');
  auto ok = name(l63 + "." + l63 + "." + l63 + "." + l61);
  ASSERT_EQ(ok.size(), 255u);
  std::size_t pos = 0;
  auto n = read_name(ok, pos);
  ASSERT_TRUE(n) << n.error();
  EXPECT_EQ(pos, 255u);
  auto too_long = name(l63 + "." + l63 + "." + l63 + "." + l62);
  ASSERT_EQ(too_long.size(), 256u);
  pos = 0;
  EXPECT_FALSE(read_name(too_long, pos));
}

// A label byte that is a dot must not turn one label into two.
TEST(DnsRecords, NamesAreEscaped) {
  auto w = bytes({5, 'a', '.', 'b', ' ', 0xff, 2, 'c', '\\', 0});
  std::size_t pos = 0;
  auto n = read_name(w, pos);
  ASSERT_TRUE(n) << n.error();
  EXPECT_EQ(*n, "a\\.b\\032\\255.c\\\\");
  EXPECT_EQ(pos, w.size());
}

TEST(DnsRecords, RootName) {
  auto w = bytes({0});
  std::size_t pos = 0;
  EXPECT_EQ(read_name(w, pos).value(), ".");
  EXPECT_EQ(pos, 1u);
}

TEST(DnsRecords, CnameAndPtr) {
  EXPECT_EQ(parse_cname(name("target.b.test")).value().target, "target.b.test");
  EXPECT_EQ(parse_ptr(name("mx.example.test")).value().target, "mx.example.test");
  EXPECT_FALSE(parse_cname(cat({name("x.test"), bytes({0})})));
  EXPECT_FALSE(parse_cname({}));
}

TEST(DnsRecords, Txt) {
  // libunbound's data[0] for 'txt.a.test TXT "abc" "def"'
  auto txt = parse_txt(hex("0361626303646566"));
  ASSERT_TRUE(txt) << txt.error();
  EXPECT_EQ(txt->strings, (std::vector<std::string>{"abc", "def"}));
  EXPECT_EQ(txt->joined(), "abcdef");
}

// RFC 7208 §3.3: a record longer than 255 octets comes as several strings,
// read concatenated.
TEST(DnsRecords, LongTxtIsSplitIntoStrings) {
  std::string first(255, 'x'), second = "tail";
  Wire w{255};
  w.insert(w.end(), first.begin(), first.end());
  w.push_back(static_cast<std::uint8_t>(second.size()));
  w.insert(w.end(), second.begin(), second.end());
  auto txt = parse_txt(w);
  ASSERT_TRUE(txt) << txt.error();
  ASSERT_EQ(txt->strings.size(), 2u);
  EXPECT_EQ(txt->joined(), first + second);
}

TEST(DnsRecords, TxtEdgeCases) {
  EXPECT_EQ(parse_txt(bytes({0})).value().strings, std::vector<std::string>{""});  // one empty string
  EXPECT_FALSE(parse_txt({}));                                                     // no string at all
  EXPECT_FALSE(parse_txt(bytes({4, 'a', 'b', 'c'})));                              // length past the end
  EXPECT_FALSE(parse_txt(bytes({1, 'a', 9})));                                     // second string truncated
}

TEST(DnsRecords, Tlsa) {
  // RFC 7671 §5.1: "3 1 1" and a SHA-256 digest.
  Wire w = bytes({3, 1, 1});
  for (int i = 0; i < 32; ++i) w.push_back(static_cast<std::uint8_t>(i));
  auto t = parse_tlsa(w);
  ASSERT_TRUE(t) << t.error();
  EXPECT_EQ(t->usage, 3);
  EXPECT_EQ(t->selector, 1);
  EXPECT_EQ(t->matching_type, 1);
  EXPECT_EQ(t->data.size(), 32u);
  EXPECT_EQ(t->data[31], 31);
  EXPECT_FALSE(parse_tlsa(bytes({3, 1, 1})));
  EXPECT_FALSE(parse_tlsa({}));
}

TEST(DnsRecords, DispatchByType) {
  auto r = parse_rdata(RrType::mx, cat({bytes({0, 10}), name("mx.test")}));
  ASSERT_TRUE(r);
  EXPECT_EQ(std::get<MxRecord>(*r), (MxRecord{10, "mx.test"}));
  EXPECT_TRUE(std::holds_alternative<IpAddress>(parse_rdata(RrType::aaaa, Wire(16, 0)).value()));
  EXPECT_FALSE(parse_rdata(static_cast<RrType>(99), bytes({1})));
}

TEST(DnsRecords, TypeNames) {
  EXPECT_EQ(to_string(RrType::tlsa), "TLSA");
  EXPECT_EQ(parse_rr_type("mx"), RrType::mx);
  EXPECT_EQ(parse_rr_type("AAAA"), RrType::aaaa);
  EXPECT_FALSE(parse_rr_type("SOA"));
  EXPECT_FALSE(parse_rr_type(""));
}

TEST(DnsRecords, NameComparison) {
  EXPECT_TRUE(same_name("MX1.Example.TEST.", "mx1.example.test"));
  EXPECT_FALSE(same_name("mx1.example.test", "mx2.example.test"));
  EXPECT_FALSE(same_name("a\\.", "a"));  // an escaped dot is part of the label
  EXPECT_EQ(canonical_name("Example.TEST."), "example.test");
  EXPECT_EQ(canonical_name("."), ".");
  EXPECT_EQ(canonical_name(""), ".");
}

// The packet libunbound returned for "alias.a.test MX", where alias.a.test is
// a CNAME to target.b.test: compressed names in owners and in rdata.
constexpr std::string_view alias_packet =
    "00008180000100020000000105616c6961730161047465737400000f0001c00c000500010000012c000b067461726765740162c014"
    "c02a000f00010000012c00070005026d78c03100002904d0000080000000";

TEST(DnsMessage, CnameThenMxFromLibunbound) {
  auto packet = hex(alias_packet);
  auto m = parse_message(packet);
  ASSERT_TRUE(m) << m.error();
  EXPECT_EQ(m->rcode, 0);
  EXPECT_EQ(m->question_name, "alias.a.test");
  EXPECT_EQ(m->question_type, 15);
  ASSERT_EQ(m->answers.size(), 2u);
  EXPECT_EQ(m->answers[0].owner, "alias.a.test");
  EXPECT_EQ(m->answers[0].ttl, 300u);
  EXPECT_EQ(std::get<CnameRecord>(*m->answers[0].data).target, "target.b.test");
  EXPECT_EQ(m->answers[1].owner, "target.b.test");
  EXPECT_EQ(std::get<MxRecord>(*m->answers[1].data), (MxRecord{5, "mx.b.test"}));
  EXPECT_EQ(cname_chain(*m), std::vector<std::string>{"target.b.test"});
}

TEST(DnsMessage, NxdomainWithoutAnswers) {
  // "nx.a.test A" from libunbound: rcode 3, no records.
  auto m = parse_message(hex("000081830001000000000001026e7801610474657374000001000100002904d0000080000000"));
  ASSERT_TRUE(m) << m.error();
  EXPECT_EQ(m->rcode, 3);
  EXPECT_TRUE(m->answers.empty());
  EXPECT_TRUE(cname_chain(*m).empty());
}

Wire header(int qd, int an) { return bytes({0x12, 0x34, 0x81, 0x80, 0, qd, 0, an, 0, 0, 0, 0}); }

TEST(DnsMessage, Truncations) {
  auto packet = hex(alias_packet);
  // Every proper prefix of the answer part fails cleanly (the OPT record in
  // the additional section is not read, so stop before it).
  for (std::size_t n = 0; n < packet.size() - 11; ++n) {
    auto m = parse_message(Bytes(packet.data(), n));
    EXPECT_FALSE(m) << "prefix of " << n << " octets parsed";
  }
  EXPECT_FALSE(parse_message(header(0, 1)));                    // an answer that is not there
  EXPECT_FALSE(parse_message(cat({header(1, 0), name("a")})));  // question without type and class
}

TEST(DnsMessage, RdlengthPastTheEnd) {
  auto w = cat({header(0, 1), name("a"), bytes({0, 1, 0, 1, 0, 0, 0, 60, 0, 5, 127, 0, 0, 1})});
  EXPECT_FALSE(parse_message(w));
  // A record whose rdlength is not 4.
  w = cat({header(0, 1), name("a"), bytes({0, 1, 0, 1, 0, 0, 0, 60, 0, 3, 127, 0, 0})});
  EXPECT_FALSE(parse_message(w));
}

TEST(DnsMessage, PointerToItselfIsRejected) {
  auto w = cat({header(1, 0), bytes({0xC0, 12, 0, 1, 0, 1})});
  auto m = parse_message(w);
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().find("backwards"), std::string::npos);
}

TEST(DnsMessage, ForwardPointerIsRejected) {
  auto w = cat({header(1, 0), bytes({0xC0, 20, 0, 1, 0, 1}), name("a")});
  EXPECT_FALSE(parse_message(w));
}

// A backwards pointer into a name that leads to the same pointer again: every
// round adds a label, so the 255-octet limit ends it.
TEST(DnsMessage, PointerLoopThroughLabelsEnds) {
  auto w = cat({header(1, 0), bytes({1, 'a', 0xC0, 12}), bytes({0, 1, 0, 1})});
  auto m = parse_message(w);
  ASSERT_FALSE(m);
}

TEST(DnsMessage, PointerPastTheEnd) {
  auto w = cat({header(1, 0), bytes({0xC0})});
  EXPECT_FALSE(parse_message(w));
}

TEST(DnsMessage, CompressedRdataMustEndAtRdlength) {
  // MX rdata "0 10, pointer to the question name" with rdlength 5 (one too many).
  auto w = cat({header(1, 1), name("d.test"), bytes({0, 15, 0, 1}),
                bytes({0xC0, 12, 0, 15, 0, 1, 0, 0, 0, 60, 0, 5, 0, 10, 0xC0, 12, 0})});
  EXPECT_FALSE(parse_message(w));
  w = cat({header(1, 1), name("d.test"), bytes({0, 15, 0, 1}),
           bytes({0xC0, 12, 0, 15, 0, 1, 0, 0, 0, 60, 0, 4, 0, 10, 0xC0, 12})});
  auto m = parse_message(w);
  ASSERT_TRUE(m) << m.error();
  EXPECT_EQ(std::get<MxRecord>(*m->answers[0].data), (MxRecord{10, "d.test"}));
}

TEST(DnsMessage, TtlWithTopBitIsZero) {
  auto w = cat({header(0, 1), name("a"), bytes({0, 1, 0, 1, 0x80, 0, 0, 1, 0, 4, 127, 0, 0, 1})});
  auto m = parse_message(w);
  ASSERT_TRUE(m) << m.error();
  EXPECT_EQ(m->answers[0].ttl, 0u);  // RFC 2181 §8
}

TEST(DnsMessage, UnknownTypesAreSkipped) {
  // An RRSIG-like record (type 46) with opaque rdata, then an A record.
  auto w = cat({header(0, 2), name("a"), bytes({0, 46, 0, 1, 0, 0, 0, 60, 0, 3, 0xC0, 0xC0, 0xC0}), name("a"),
                bytes({0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 1})});
  auto m = parse_message(w);
  ASSERT_TRUE(m) << m.error();
  ASSERT_EQ(m->answers.size(), 2u);
  EXPECT_FALSE(m->answers[0].data);
  EXPECT_EQ(std::get<IpAddress>(*m->answers[1].data).to_string(), "10.0.0.1");
}

DnsMessage with_cnames(std::string q, std::vector<std::pair<std::string, std::string>> links) {
  DnsMessage m;
  m.question_name = std::move(q);
  for (auto& [from, to] : links) {
    ResourceRecord rr;
    rr.owner = from;
    rr.type = 5;
    rr.data = CnameRecord{to};
    m.answers.push_back(std::move(rr));
  }
  return m;
}

TEST(DnsMessage, CnameChainInAnyOrderAndAnyCase) {
  auto m = with_cnames("A.test", {{"b.test", "c.test"}, {"a.test", "B.test"}});
  EXPECT_EQ(cname_chain(m), (std::vector<std::string>{"B.test", "c.test"}));
}

TEST(DnsMessage, CnameLoopStops) {
  auto m = with_cnames("a.test", {{"a.test", "b.test"}, {"b.test", "a.test"}});
  EXPECT_EQ(cname_chain(m), (std::vector<std::string>{"b.test", "a.test"}));
  auto self = with_cnames("a.test", {{"a.test", "a.test"}});
  EXPECT_EQ(cname_chain(self), std::vector<std::string>{"a.test"});
}

}  // namespace
}  // namespace tern::dns
