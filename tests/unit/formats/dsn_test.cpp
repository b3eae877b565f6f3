// Delivery status notifications (RFC 3464 inside an RFC 6522 multipart/report).
#include "formats/dsn.hpp"

#include <gtest/gtest.h>

namespace tern {
namespace {

DsnReport sample() {
  DsnReport r;
  r.reporting_mta = "mx.example.test";
  r.queue_id = "0123456789ABCDEF";
  r.original_sender = "a@b.example";
  r.arrival = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));
  DsnRecipient d;
  d.final_recipient = "x@remote.example";
  d.status = "5.1.1";
  d.remote_mta = "mx.remote.example";
  d.diagnostic = "550 5.1.1 no such user";
  d.last_attempt = r.arrival;
  r.recipients.push_back(d);
  r.original_headers = "Subject: hi\r\nFrom: a@b.example\r\n";
  return r;
}

std::string boundary_of(const std::string& dsn) {
  auto b = dsn.find("boundary=\"");
  if (b == std::string::npos) return {};
  b += 10;
  return dsn.substr(b, dsn.find('"', b) - b);
}

TEST(Dsn, StructureOfAReport) {
  std::string m = build_dsn(sample());
  EXPECT_TRUE(m.starts_with("From: Mail Delivery System <MAILER-DAEMON@mx.example.test>\r\nTo: <a@b.example>\r\n"));
  EXPECT_NE(m.find("\r\nAuto-Submitted: auto-replied\r\n"), std::string::npos);  // RFC 3834
  EXPECT_NE(m.find("\r\nContent-Type: multipart/report; report-type=delivery-status;"), std::string::npos);
  std::string b = boundary_of(m);
  ASSERT_FALSE(b.empty());
  // Three parts and the closing delimiter, in order.
  auto p1 = m.find("\r\n--" + b + "\r\nContent-Description: Notification\r\nContent-Type: text/plain");
  auto p2 = m.find("\r\n--" + b + "\r\nContent-Description: Delivery report\r\nContent-Type: message/delivery-status\r\n");
  auto p3 = m.find("\r\n--" + b + "\r\nContent-Description: Undelivered Message Headers\r\nContent-Type: text/rfc822-headers\r\n");
  auto end = m.find("\r\n--" + b + "--\r\n");
  ASSERT_NE(p1, std::string::npos);
  ASSERT_NE(p2, std::string::npos);
  ASSERT_NE(p3, std::string::npos);
  ASSERT_NE(end, std::string::npos);
  EXPECT_LT(p1, p2);
  EXPECT_LT(p2, p3);
  EXPECT_LT(p3, end);
  EXPECT_TRUE(m.ends_with("--" + b + "--\r\n"));
  // RFC 3464 §2.2 and §2.3 fields.
  std::string report = m.substr(p2, p3 - p2);
  for (const char* field : {"Reporting-MTA: dns; mx.example.test\r\n", "Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n",
                            "\r\n\r\nFinal-Recipient: rfc822; x@remote.example\r\n", "Action: failed\r\n",
                            "Status: 5.1.1\r\n", "Remote-MTA: dns; mx.remote.example\r\n",
                            "Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n"})
    EXPECT_NE(report.find(field), std::string::npos) << field;
  EXPECT_NE(m.find("\r\n\r\nSubject: hi\r\nFrom: a@b.example\r\n"), std::string::npos);
}

TEST(Dsn, EveryLineEndsInCrlf) {
  std::string m = build_dsn(sample());
  for (std::size_t i = 0; i < m.size(); ++i) {
    if (m[i] == '\n') {
      ASSERT_TRUE(i > 0 && m[i - 1] == '\r') << "bare LF at " << i;
    }
    if (m[i] == '\r') {
      ASSERT_TRUE(i + 1 < m.size() && m[i + 1] == '\n') << "bare CR at " << i;
    }
  }
}

// Peer-supplied text cannot add header fields or break the MIME structure.
TEST(Dsn, PeerTextCannotInjectLines) {
  DsnReport r = sample();
  r.recipients[0].diagnostic = "550 no\r\nX-Injected: yes";
  r.recipients[0].remote_mta = "evil\nhost";
  r.original_sender = "a@b.example>\r\nBcc: victim@example.org";
  std::string m = build_dsn(r);
  EXPECT_EQ(m.find("\r\nX-Injected:"), std::string::npos);
  EXPECT_EQ(m.find("\r\nBcc:"), std::string::npos);
  EXPECT_EQ(m.find("\nhost"), std::string::npos);
}

TEST(Dsn, NoRemoteMtaWhenNoServerAnswered) {
  DsnReport r = sample();
  r.recipients[0].remote_mta.clear();
  r.recipients[0].diagnostic = "4.4.7 delivery time expired";
  std::string m = build_dsn(r);
  EXPECT_EQ(m.find("Remote-MTA:"), std::string::npos);
  EXPECT_NE(m.find("<x@remote.example>: 4.4.7 delivery time expired\r\n"), std::string::npos);
}

TEST(Dsn, DelayedOnlyReportSaysSo) {
  DsnReport r = sample();
  r.recipients[0].action = "delayed";
  r.recipients[0].status = "4.4.1";
  std::string m = build_dsn(r);
  EXPECT_NE(m.find("Subject: Delayed Mail (still being retried)\r\n"), std::string::npos);
  EXPECT_NE(m.find("Action: delayed\r\n"), std::string::npos);
}

// RFC 5322 §2.1.1: a line is at most 998 octets. A remote server's reply can
// be much longer (ReplyParser allows 100 lines of 2048, joined into one
// diagnostic), and a bounce with a longer line is refused by the next MTA
// (Tern's own DataDecoder answers 552), so the report must fold or cut it.
TEST(Dsn, LinesStayWithinRfc5322Limit) {
  DsnReport r = sample();
  r.recipients[0].diagnostic = "550 5.7.1 " + std::string(3000, 'x');
  r.recipients[0].final_recipient = std::string(200, 'l') + "@remote.example";
  std::string m = build_dsn(r);
  std::size_t start = 0, longest = 0;
  while (start < m.size()) {
    auto end = m.find("\r\n", start);
    if (end == std::string::npos) end = m.size();
    longest = std::max(longest, end - start);
    start = end + 2;
  }
  EXPECT_LE(longest, 998u);
}

}  // namespace
}  // namespace tern
