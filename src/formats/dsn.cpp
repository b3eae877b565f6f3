#include "formats/dsn.hpp"

#include <fmt/format.h>

#include "base/queue_id.hpp"
#include "formats/received_header.hpp"

namespace tern {
namespace {

// Values from elsewhere must not break our structure, and every line must
// stay within RFC 5322 §2.1.1's 998 octets: cut long ones.
std::string one_line(std::string_view s, std::size_t max = 700) {
  std::string out;
  for (char c : s.substr(0, max)) out += (c == '\r' || c == '\n') ? ' ' : c;
  if (s.size() > max) out += "...";
  return out;
}

}  // namespace

std::string build_dsn(const DsnReport& r) {
  const std::string boundary = fmt::format("{}/{}", make_queue_id(), r.reporting_mta);
  bool delayed_only = true;
  for (const auto& x : r.recipients) delayed_only = delayed_only && x.action == "delayed";
  std::string out;
  out += fmt::format("From: Mail Delivery System <MAILER-DAEMON@{}>\r\n", r.reporting_mta);
  out += fmt::format("To: <{}>\r\n", one_line(r.original_sender));
  out += fmt::format("Subject: {}\r\n", delayed_only ? "Delayed Mail (still being retried)"
                                                     : "Undelivered Mail Returned to Sender");
  out += fmt::format("Date: {}\r\n", rfc5322_date(std::chrono::system_clock::now()));
  out += fmt::format("Message-ID: <{}.dsn@{}>\r\n", make_queue_id(), r.reporting_mta);
  // RFC 3834 §5: automatic responses say so, and nobody should reply to them.
  out += "Auto-Submitted: auto-replied\r\n";
  out += "MIME-Version: 1.0\r\n";
  out += fmt::format("Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"{}\"\r\n",
                     boundary);
  out += "\r\nThis is a MIME-encapsulated message.\r\n\r\n";

  // Part 1: for people.
  out += fmt::format("--{}\r\nContent-Description: Notification\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n",
                     boundary);
  out += fmt::format("This is the mail system at host {}.\r\n\r\n", r.reporting_mta);
  if (delayed_only)
    out += "Your message could not be delivered yet. The mail system will keep trying.\r\n\r\n";
  else
    out += "I'm sorry to have to inform you that your message could not\r\n"
           "be delivered to one or more recipients. It's attached below.\r\n\r\n";
  for (const auto& x : r.recipients) {
    out += fmt::format("<{}>: ", one_line(x.final_recipient, 256));
    if (!x.remote_mta.empty()) out += fmt::format("host {} said:\r\n    ", one_line(x.remote_mta, 256));
    out += fmt::format("{}\r\n\r\n", one_line(x.diagnostic));
  }

  // Part 2: for programs (RFC 3464 §2.2 per-message, §2.3 per-recipient fields).
  out += fmt::format("--{}\r\nContent-Description: Delivery report\r\nContent-Type: message/delivery-status\r\n\r\n",
                     boundary);
  out += fmt::format("Reporting-MTA: dns; {}\r\n", r.reporting_mta);
  out += fmt::format("X-Tern-Queue-ID: {}\r\n", r.queue_id);
  out += fmt::format("Arrival-Date: {}\r\n", rfc5322_date(r.arrival));
  for (const auto& x : r.recipients) {
    out += "\r\n";
    out += fmt::format("Final-Recipient: rfc822; {}\r\n", one_line(x.final_recipient));
    out += fmt::format("Action: {}\r\n", x.action);
    out += fmt::format("Status: {}\r\n", x.status);
    if (!x.remote_mta.empty()) out += fmt::format("Remote-MTA: dns; {}\r\n", one_line(x.remote_mta));
    if (!x.diagnostic.empty()) out += fmt::format("Diagnostic-Code: smtp; {}\r\n", one_line(x.diagnostic));
    out += fmt::format("Last-Attempt-Date: {}\r\n", rfc5322_date(x.last_attempt));
  }

  // Part 3: the returned message's headers (RFC 6522 text/rfc822-headers).
  out += fmt::format("\r\n--{}\r\nContent-Description: Undelivered Message Headers\r\n"
                     "Content-Type: text/rfc822-headers\r\n\r\n",
                     boundary);
  out += r.original_headers;
  if (!r.original_headers.ends_with("\r\n")) out += "\r\n";
  out += fmt::format("\r\n--{}--\r\n", boundary);
  return out;
}

}  // namespace tern
