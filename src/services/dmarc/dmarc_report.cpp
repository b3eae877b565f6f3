// The per-message DMARC report line (JSON), from the evaluation's input and
// outcome. Hand-written JSON so this pure library needs no JSON dependency.
#include "services/dmarc/dmarc_report.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

namespace tern::dmarc {
namespace {

// Length of the valid UTF-8 sequence at s[i], 0 if none (RFC 3629).
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  auto b0 = static_cast<unsigned char>(s[i]);
  std::size_t len = (b0 >> 5) == 6 ? 2 : (b0 >> 4) == 14 ? 3 : (b0 >> 3) == 30 ? 4 : 0;
  if (len == 0 || i + len > s.size()) return 0;
  std::uint32_t cp = len == 2 ? (b0 & 0x1f) : len == 3 ? (b0 & 0x0f) : (b0 & 0x07);
  for (std::size_t j = 1; j < len; ++j) {
    auto b = static_cast<unsigned char>(s[i + j]);
    if ((b >> 6) != 2) return 0;
    cp = (cp << 6) | (b & 0x3f);
  }
  static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

}  // namespace

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
      ++i;
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\u{:04x}", c);
      ++i;
    } else if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
    } else if (auto len = utf8_sequence(s, i)) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out += "\\ufffd";
      ++i;
    }
  }
  out += '"';
  return out;
}

std::string dmarc_report_line(const DmarcInput& in, const DmarcOutcome& out, std::string_view source_ip,
                              std::chrono::system_clock::time_point when) {
  auto secs = std::chrono::time_point_cast<std::chrono::seconds>(when);
  std::string line = "{\"time\":" + json_string(fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", secs));
  line += ",\"source_ip\":" + json_string(source_ip);
  line += ",\"header_from\":" + json_string(in.from_domain);
  line += ",\"policy_domain\":" + json_string(out.policy_domain);
  line += ",\"result\":" + json_string(auth::to_string(out.result));
  if (out.record) {
    const auto& r = *out.record;
    line += ",\"p\":" + json_string(to_string(r.policy));
    line += ",\"sp\":" + json_string(to_string(r.policy_for(true)));
    line += fmt::format(",\"pct\":{}", r.percent);
    line += ",\"adkim\":" + json_string(to_string(r.dkim_alignment));
    line += ",\"aspf\":" + json_string(to_string(r.spf_alignment));
  } else {
    line += ",\"p\":null,\"sp\":null,\"pct\":null,\"adkim\":null,\"aspf\":null";
  }
  line += ",\"policy\":" + json_string(out.policy);
  line += ",\"disposition\":" + json_string(out.disposition);
  line += out.sampled ? ",\"sampled\":true" : ",\"sampled\":false";
  line += ",\"dkim\":[";
  for (std::size_t i = 0; i < in.dkim.size(); ++i) {
    if (i) line += ',';
    line += "{\"domain\":" + json_string(in.dkim[i].domain) + ",\"result\":" +
            json_string(auth::to_string(in.dkim[i].result)) + "}";
  }
  line += "],\"spf\":{\"domain\":" + json_string(in.spf_domain) + ",\"result\":" +
          json_string(auth::to_string(in.spf)) + "}";
  line += out.dkim_aligned ? ",\"dkim_aligned\":true" : ",\"dkim_aligned\":false";
  line += out.spf_aligned ? ",\"spf_aligned\":true" : ",\"spf_aligned\":false";
  line += '}';
  return line;
}

}  // namespace tern::dmarc
