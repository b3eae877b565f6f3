// Delivery status notifications (RFC 3464, RFC 3462/6522 multipart/report):
// the bounce a sender gets when some recipients could not be reached. A
// builder only; the queue decides when to send one and to whom.
#pragma once
#include <chrono>
#include <string>
#include <vector>

namespace tern {

struct DsnRecipient {
  std::string final_recipient;  // the address we tried (RFC 3464 §2.3.2)
  std::string action = "failed";  // failed | delayed (RFC 3464 §2.3.3)
  std::string status;              // RFC 3463 code, e.g. "5.1.1"
  std::string remote_mta;          // host name, empty when no remote server answered
  std::string diagnostic;          // the remote reply, e.g. "550 5.1.1 User unknown"
  std::chrono::system_clock::time_point last_attempt = std::chrono::system_clock::now();
};

struct DsnReport {
  std::string reporting_mta;  // our hostname
  std::string queue_id;
  std::string original_sender;  // envelope sender the report goes to
  std::chrono::system_clock::time_point arrival;
  std::vector<DsnRecipient> recipients;
  std::string original_headers;  // the returned message's header section (CRLF lines)
};

// The complete message (headers and body, CRLF line ends), From
// MAILER-DAEMON@reporting_mta to the original sender.
std::string build_dsn(const DsnReport& report);

}  // namespace tern
