// DNS resource-record data (RFC 1035 §3.3, RFC 3596, RFC 6698) parsed from wire
// format: the rdata libunbound returns in ub_result->data/len (names there are
// uncompressed) and whole answer packets (ub_result->answer_packet, where names
// may be compressed, RFC 1035 §4.1.4). Pure functions over bytes: no resolver,
// no I/O, no global state; every length is checked, so they are safe on
// hostile input (fuzzed by fuzz/fuzz_dns_records.cpp).
#pragma once
#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/ip_network.hpp"

namespace tern::dns {

using Bytes = std::span<const std::uint8_t>;

// The record types Tern asks for. Values are the IANA type codes.
enum class RrType : std::uint16_t {
  a = 1,
  cname = 5,
  ptr = 12,
  mx = 15,
  txt = 16,
  aaaa = 28,
  tlsa = 52,
};
std::string_view to_string(RrType type);                     // "MX"
std::optional<RrType> parse_rr_type(std::string_view text);  // "mx", "MX" -> mx

// Names are in presentation format (RFC 1035 §5.1) without the trailing dot:
// "mx1.example.test"; the root is ".". Case is kept as received (compare with
// same_name). A label byte that is '.' or '\' is escaped with '\', any other
// byte outside '!'..'~' as \DDD, so a hostile label like "a.b" never reads as
// two labels, and libunbound parses the text back to the same wire name.
bool same_name(std::string_view a, std::string_view b);  // ASCII case-insensitive, trailing dot ignored
std::string canonical_name(std::string_view name);       // lower-case, no trailing dot, root "."

struct MxRecord {
  std::uint16_t preference = 0;
  std::string exchange;  // "." for a null MX (RFC 7505)
  bool operator==(const MxRecord&) const = default;
};

struct CnameRecord {
  std::string target;
  bool operator==(const CnameRecord&) const = default;
};

struct PtrRecord {
  std::string target;
  bool operator==(const PtrRecord&) const = default;
};

// RFC 1035 §3.3.14: one or more <character-string>s of up to 255 octets each.
// SPF (RFC 7208 §3.3) and DKIM (RFC 6376 §3.6.2.2) read them concatenated.
struct TxtRecord {
  std::vector<std::string> strings;
  std::string joined() const;
  bool operator==(const TxtRecord&) const = default;
};

// RFC 6698 §2.1. Whether a record is usable for DANE (known usage, digest of
// the right length) is for the DANE code to decide (RFC 7671 §4); the parser
// only checks the wire shape.
struct TlsaRecord {
  std::uint8_t usage = 0;
  std::uint8_t selector = 0;
  std::uint8_t matching_type = 0;
  std::vector<std::uint8_t> data;
  bool operator==(const TlsaRecord&) const = default;
};

// A and AAAA are both an IpAddress (v6 tells them apart).
using RecordData = std::variant<IpAddress, MxRecord, CnameRecord, PtrRecord, TxtRecord, TlsaRecord>;

// Why some bytes are not a valid record: for the log, never for a peer.
template <typename T>
using ParseResult = std::expected<T, std::string>;

// --- rdata as libunbound gives it (ub_result->data[i], ->len[i]) ------------
// Names inside must be uncompressed: a compression pointer here is an error.
// Each parser consumes the rdata exactly; trailing bytes are an error.
ParseResult<IpAddress> parse_a(Bytes rdata);
ParseResult<IpAddress> parse_aaaa(Bytes rdata);
ParseResult<MxRecord> parse_mx(Bytes rdata);
ParseResult<CnameRecord> parse_cname(Bytes rdata);
ParseResult<PtrRecord> parse_ptr(Bytes rdata);
ParseResult<TxtRecord> parse_txt(Bytes rdata);
ParseResult<TlsaRecord> parse_tlsa(Bytes rdata);
ParseResult<RecordData> parse_rdata(RrType type, Bytes rdata);

// An uncompressed wire name starting at data[pos]; pos moves past it.
ParseResult<std::string> read_name(Bytes data, std::size_t& pos);

// --- whole DNS messages (the answer packet) --------------------------------
struct ResourceRecord {
  std::string owner;
  std::uint16_t type = 0;
  std::uint16_t rr_class = 0;
  std::uint32_t ttl = 0;
  // Decoded rdata for the types above (compressed names expanded); nullopt for
  // other types (RRSIG, SOA, ...), which are skipped over, not decoded.
  std::optional<RecordData> data;
};

struct DnsMessage {
  std::uint16_t id = 0;
  std::uint16_t flags = 0;
  std::uint8_t rcode = 0;     // low 4 bits of flags (no EDNS extended rcode)
  std::string question_name;  // the first question; "" when there is none
  std::uint16_t question_type = 0;
  std::vector<ResourceRecord> answers;  // the answer section only
};

// Parses the header, the questions and the answer section; the authority and
// additional sections are not read. Compression pointers must point backwards.
ParseResult<DnsMessage> parse_message(Bytes packet);

// A name in a message at packet[pos], following compression pointers; pos
// moves past the name's bytes at its own position.
ParseResult<std::string> read_packet_name(Bytes packet, std::size_t& pos);

// The CNAME targets the answer section leads through from the question name,
// in order (RFC 1034 §3.6.2). Stops at a repeated name (a loop) or after
// `limit` steps.
std::vector<std::string> cname_chain(const DnsMessage& message, std::size_t limit = 16);

}  // namespace tern::dns
