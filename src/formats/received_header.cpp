#include "formats/received_header.hpp"

#include <fmt/format.h>
#include <ctime>

namespace tern {
namespace {
// The HELO argument is client-controlled: keep it to printable ASCII without
// parentheses so it cannot forge structure inside our header.
std::string sanitize_helo(std::string_view s) {
  std::string out;
  for (unsigned char c : s.substr(0, 255)) {
    if (c > 32 && c < 127 && c != '(' && c != ')' && c != '\\') out += static_cast<char>(c);
    else out += '?';
  }
  return out.empty() ? "unknown" : out;
}
}  // namespace

std::string rfc5322_date(std::chrono::system_clock::time_point when) {
  std::time_t t = std::chrono::system_clock::to_time_t(when);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

std::string build_received_header(const ReceivedInfo& i) {
  std::string from = i.client_ip.empty() ? sanitize_helo(i.helo)
                                         : fmt::format("{} ([{}])", sanitize_helo(i.helo), i.client_ip);
  std::string out =
      fmt::format("Received: from {}\r\n\tby {} (Tern) with {} id {}", from, i.by_host, i.protocol, i.queue_id);
  if (!i.for_recipient.empty()) out += fmt::format("\r\n\tfor <{}>", i.for_recipient);
  out += fmt::format(";\r\n\t{}\r\n", rfc5322_date(i.when));
  return out;
}

std::string build_delivery_headers(std::string_view return_path, std::string_view delivered_to) {
  return fmt::format("Return-Path: <{}>\r\nDelivered-To: {}\r\n", return_path, delivered_to);
}

}  // namespace tern
