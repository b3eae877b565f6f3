// Trace headers added on receipt (RFC 5321 §4.4) and on final delivery
// (Return-Path, Delivered-To). Builders only; no I/O.
#pragma once
#include <chrono>
#include <string>
#include <string_view>

namespace tern {

struct ReceivedInfo {
  std::string helo;          // as the client gave it (escaped on output)
  std::string client_ip;     // literal address; empty: left out (RFC 6409 §8)
  std::string by_host;       // our hostname
  std::string protocol;      // SMTP, ESMTP, ESMTPS, ESMTPA, ESMTPSA, UTF8SMTP... (RFC 3848)
  std::string queue_id;
  std::string for_recipient; // only when there is exactly one recipient
  std::chrono::system_clock::time_point when = std::chrono::system_clock::now();
};

// The whole header field, folded, ending in CRLF.
std::string build_received_header(const ReceivedInfo& info);
// RFC 5322 §3.3 date-time, e.g. "Mon, 23 Nov 2026 06:01:02 +0000".
std::string rfc5322_date(std::chrono::system_clock::time_point when);
// "Return-Path: <a@b>\r\nDelivered-To: c@d\r\n"
std::string build_delivery_headers(std::string_view return_path, std::string_view delivered_to);

}  // namespace tern
