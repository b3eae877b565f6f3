#include "services/dns/dns_records.hpp"

#include <algorithm>
#include <cstring>
#include <set>

namespace tern::dns {
namespace {

// RFC 1035 §3.1: a name is at most 255 octets on the wire, a label 63.
constexpr std::size_t max_name_octets = 255;
// Pointers must point backwards and the name is bounded, so a loop cannot run
// forever anyway; this only makes the bound obvious.
constexpr int max_pointer_hops = 64;

std::unexpected<std::string> fail(std::string why) { return std::unexpected(std::move(why)); }

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

void append_label(std::string& out, Bytes label) {
  if (!out.empty()) out += '.';
  for (std::uint8_t c : label) {
    if (c == '.' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x21 || c > 0x7e) {
      char buf[5] = {'\\', static_cast<char>('0' + c / 100), static_cast<char>('0' + c / 10 % 10),
                     static_cast<char>('0' + c % 10), 0};
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
}

// Reads a name at data[pos]. Its bytes at their own position must end before
// `end`; with `pointers`, compression pointers (RFC 1035 §4.1.4) lead anywhere
// earlier in `data`. On success pos is just past the name's own bytes.
ParseResult<std::string> read_name_in(Bytes data, std::size_t& pos, std::size_t end, bool pointers) {
  std::string out;
  std::size_t p = pos;
  std::size_t limit = std::min(end, data.size());
  std::size_t octets = 0;
  bool jumped = false;
  int hops = 0;
  for (;;) {
    if (p >= limit) return fail("name runs past the end of the data");
    std::uint8_t len = data[p];
    if ((len & 0xC0) == 0xC0) {
      if (!pointers) return fail("compression pointer where names must be uncompressed");
      if (p + 1 >= limit) return fail("truncated compression pointer");
      std::size_t target = (static_cast<std::size_t>(len & 0x3F) << 8) | data[p + 1];
      if (target >= p) return fail("compression pointer does not point backwards");
      if (++hops > max_pointer_hops) return fail("too many compression pointers");
      if (!jumped) pos = p + 2;
      jumped = true;
      p = target;
      limit = data.size();
      continue;
    }
    if (len & 0xC0) return fail("unknown label type");  // 0x40, 0x80: RFC 6891 §5 obsoleted them
    if (len == 0) {
      if (!jumped) pos = p + 1;
      return out.empty() ? std::string(".") : out;
    }
    if (len > limit - p - 1) return fail("label runs past the end of the data");
    octets += 1u + len;
    if (octets + 1 > max_name_octets) return fail("name longer than 255 octets");
    append_label(out, data.subspan(p + 1, len));
    p += 1u + len;
  }
}

std::uint16_t get16(Bytes d, std::size_t at) { return static_cast<std::uint16_t>(d[at] << 8 | d[at + 1]); }
std::uint32_t get32(Bytes d, std::size_t at) {
  return static_cast<std::uint32_t>(d[at]) << 24 | static_cast<std::uint32_t>(d[at + 1]) << 16 |
         static_cast<std::uint32_t>(d[at + 2]) << 8 | d[at + 3];
}

// A name that must fill the rdata exactly, from an rdata buffer or a packet.
ParseResult<std::string> whole_name(Bytes data, std::size_t pos, std::size_t end, bool pointers) {
  auto name = read_name_in(data, pos, end, pointers);
  if (!name) return name;
  if (pos != end) return fail("trailing bytes after the name");
  return name;
}

ParseResult<MxRecord> mx_in(Bytes data, std::size_t start, std::size_t end, bool pointers) {
  // RFC 1035 §3.3.9: PREFERENCE (16 bits), EXCHANGE (a name).
  if (end - start < 3) return fail("MX rdata shorter than 3 octets");
  auto name = whole_name(data, start + 2, end, pointers);
  if (!name) return std::unexpected("MX exchange: " + name.error());
  return MxRecord{get16(data, start), std::move(*name)};
}

// Decodes rdata of a known type; data[start, end) is the rdata, and with
// `pointers` data is the whole packet so compressed names can be followed.
ParseResult<RecordData> rdata_in(RrType type, Bytes data, std::size_t start, std::size_t end, bool pointers) {
  Bytes rdata = data.subspan(start, end - start);
  switch (type) {
    case RrType::a: return parse_a(rdata);
    case RrType::aaaa: return parse_aaaa(rdata);
    case RrType::mx: return mx_in(data, start, end, pointers);
    case RrType::cname: {
      auto name = whole_name(data, start, end, pointers);
      if (!name) return std::unexpected("CNAME target: " + name.error());
      return CnameRecord{std::move(*name)};
    }
    case RrType::ptr: {
      auto name = whole_name(data, start, end, pointers);
      if (!name) return std::unexpected("PTR target: " + name.error());
      return PtrRecord{std::move(*name)};
    }
    case RrType::txt: return parse_txt(rdata);
    case RrType::tlsa: return parse_tlsa(rdata);
  }
  return fail("unsupported record type");
}

bool known_type(std::uint16_t t) {
  switch (static_cast<RrType>(t)) {
    case RrType::a:
    case RrType::cname:
    case RrType::ptr:
    case RrType::mx:
    case RrType::txt:
    case RrType::aaaa:
    case RrType::tlsa: return true;
  }
  return false;
}

}  // namespace

std::string_view to_string(RrType type) {
  switch (type) {
    case RrType::a: return "A";
    case RrType::cname: return "CNAME";
    case RrType::ptr: return "PTR";
    case RrType::mx: return "MX";
    case RrType::txt: return "TXT";
    case RrType::aaaa: return "AAAA";
    case RrType::tlsa: return "TLSA";
  }
  return "?";
}

std::optional<RrType> parse_rr_type(std::string_view text) {
  for (RrType t : {RrType::a, RrType::cname, RrType::ptr, RrType::mx, RrType::txt, RrType::aaaa, RrType::tlsa}) {
    auto name = to_string(t);
    if (name.size() == text.size() && std::equal(name.begin(), name.end(), text.begin(),
                                                 [](char x, char y) { return ascii_lower(x) == ascii_lower(y); }))
      return t;
  }
  return std::nullopt;
}

namespace {
// The name without a trailing dot that ends it (an escaped "\." does not).
std::string_view strip_root(std::string_view n) {
  if (n.size() <= 1 || n.back() != '.') return n;
  std::size_t backslashes = 0;
  for (std::size_t i = n.size() - 1; i > 0 && n[i - 1] == '\\'; --i) ++backslashes;
  return backslashes % 2 == 0 ? n.substr(0, n.size() - 1) : n;
}
}  // namespace

bool same_name(std::string_view a, std::string_view b) {
  a = strip_root(a);
  b = strip_root(b);
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return ascii_lower(x) == ascii_lower(y); });
}

std::string canonical_name(std::string_view name) {
  auto n = strip_root(name);
  if (n.empty()) return ".";
  std::string out(n);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

std::string TxtRecord::joined() const {
  std::string out;
  for (const auto& s : strings) out += s;
  return out;
}

ParseResult<IpAddress> parse_a(Bytes rdata) {
  if (rdata.size() != 4) return fail("A rdata is not 4 octets");
  IpAddress a;
  std::memcpy(a.bytes.data(), rdata.data(), 4);
  return a;
}

ParseResult<IpAddress> parse_aaaa(Bytes rdata) {
  if (rdata.size() != 16) return fail("AAAA rdata is not 16 octets");
  IpAddress a;
  a.v6 = true;
  std::memcpy(a.bytes.data(), rdata.data(), 16);
  return a;
}

ParseResult<MxRecord> parse_mx(Bytes rdata) { return mx_in(rdata, 0, rdata.size(), false); }

ParseResult<CnameRecord> parse_cname(Bytes rdata) {
  auto r = rdata_in(RrType::cname, rdata, 0, rdata.size(), false);
  if (!r) return std::unexpected(r.error());
  return std::get<CnameRecord>(std::move(*r));
}

ParseResult<PtrRecord> parse_ptr(Bytes rdata) {
  auto r = rdata_in(RrType::ptr, rdata, 0, rdata.size(), false);
  if (!r) return std::unexpected(r.error());
  return std::get<PtrRecord>(std::move(*r));
}

ParseResult<TxtRecord> parse_txt(Bytes rdata) {
  // RFC 1035 §3.3.14: one or more <character-string>s, each a length octet
  // and that many octets (§3.3).
  if (rdata.empty()) return fail("TXT rdata is empty");
  TxtRecord txt;
  std::size_t p = 0;
  while (p < rdata.size()) {
    std::size_t len = rdata[p];
    if (len > rdata.size() - p - 1) return fail("TXT string runs past the end of the rdata");
    txt.strings.emplace_back(reinterpret_cast<const char*>(rdata.data() + p + 1), len);
    p += 1 + len;
  }
  return txt;
}

ParseResult<TlsaRecord> parse_tlsa(Bytes rdata) {
  // RFC 6698 §2.1: usage, selector, matching type (one octet each), then the
  // certificate association data.
  if (rdata.size() < 4) return fail("TLSA rdata shorter than 4 octets");
  return TlsaRecord{rdata[0], rdata[1], rdata[2], std::vector<std::uint8_t>(rdata.begin() + 3, rdata.end())};
}

ParseResult<RecordData> parse_rdata(RrType type, Bytes rdata) {
  if (!known_type(static_cast<std::uint16_t>(type))) return fail("unsupported record type");
  return rdata_in(type, rdata, 0, rdata.size(), false);
}

ParseResult<std::string> read_name(Bytes data, std::size_t& pos) { return read_name_in(data, pos, data.size(), false); }

ParseResult<std::string> read_packet_name(Bytes packet, std::size_t& pos) {
  return read_name_in(packet, pos, packet.size(), true);
}

ParseResult<DnsMessage> parse_message(Bytes packet) {
  // RFC 1035 §4.1.1: a 12-octet header, then the sections.
  if (packet.size() < 12) return fail("message shorter than its header");
  DnsMessage m;
  m.id = get16(packet, 0);
  m.flags = get16(packet, 2);
  m.rcode = static_cast<std::uint8_t>(m.flags & 0x0F);
  std::size_t qdcount = get16(packet, 4);
  std::size_t ancount = get16(packet, 6);
  std::size_t pos = 12;
  for (std::size_t i = 0; i < qdcount; ++i) {  // §4.1.2
    auto name = read_packet_name(packet, pos);
    if (!name) return std::unexpected("question: " + name.error());
    if (packet.size() - pos < 4) return fail("question: truncated type and class");
    if (i == 0) {
      m.question_name = std::move(*name);
      m.question_type = get16(packet, pos);
    }
    pos += 4;
  }
  for (std::size_t i = 0; i < ancount; ++i) {  // §4.1.3
    auto owner = read_packet_name(packet, pos);
    if (!owner) return std::unexpected("answer: " + owner.error());
    if (packet.size() - pos < 10) return fail("answer: truncated record header");
    ResourceRecord rr;
    rr.owner = std::move(*owner);
    rr.type = get16(packet, pos);
    rr.rr_class = get16(packet, pos + 2);
    rr.ttl = get32(packet, pos + 4);
    if (rr.ttl > 0x7FFFFFFF) rr.ttl = 0;  // RFC 2181 §8: a TTL with the top bit set means zero
    std::size_t rdlength = get16(packet, pos + 8);
    pos += 10;
    if (rdlength > packet.size() - pos) return fail("answer: rdata runs past the end of the message");
    if (known_type(rr.type)) {
      auto data = rdata_in(static_cast<RrType>(rr.type), packet, pos, pos + rdlength, true);
      if (!data) return std::unexpected("answer: " + data.error());
      rr.data = std::move(*data);
    }
    pos += rdlength;
    m.answers.push_back(std::move(rr));
  }
  return m;
}

std::vector<std::string> cname_chain(const DnsMessage& message, std::size_t limit) {
  std::vector<std::string> chain;
  std::set<std::string> seen{canonical_name(message.question_name)};
  std::string current = message.question_name;
  while (chain.size() < limit) {
    const CnameRecord* next = nullptr;
    for (const auto& rr : message.answers) {
      if (rr.type != static_cast<std::uint16_t>(RrType::cname) || !rr.data || !same_name(rr.owner, current)) continue;
      next = std::get_if<CnameRecord>(&*rr.data);
      if (next) break;
    }
    if (!next) break;
    current = next->target;
    chain.push_back(current);
    if (!seen.insert(canonical_name(current)).second) break;  // a loop: report it once and stop
  }
  return chain;
}

}  // namespace tern::dns
