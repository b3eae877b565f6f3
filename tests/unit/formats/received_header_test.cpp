// Trace headers: RFC 5321 §4.4 Received:, RFC 5322 §3.3 dates, and the
// Return-Path:/Delivered-To: pair added at final delivery.
#include "formats/received_header.hpp"

#include <gtest/gtest.h>

namespace tern {
namespace {

std::chrono::system_clock::time_point at(std::int64_t unix_seconds) {
  return std::chrono::system_clock::time_point(std::chrono::seconds(unix_seconds));
}

TEST(ReceivedHeader, Rfc5322Date) {
  EXPECT_EQ(rfc5322_date(at(0)), "Thu, 01 Jan 1970 00:00:00 +0000");
  EXPECT_EQ(rfc5322_date(at(1700000000)), "Tue, 14 Nov 2023 22:13:20 +0000");
}

TEST(ReceivedHeader, FullHeader) {
  ReceivedInfo info;
  info.helo = "client.example";
  info.client_ip = "192.0.2.1";
  info.by_host = "mx.example.test";
  info.protocol = "ESMTP";
  info.queue_id = "0123456789ABCDEF";
  info.for_recipient = "demo@example.test";
  info.when = at(0);
  EXPECT_EQ(build_received_header(info),
            "Received: from client.example ([192.0.2.1])\r\n"
            "\tby mx.example.test (Tern) with ESMTP id 0123456789ABCDEF\r\n"
            "\tfor <demo@example.test>;\r\n"
            "\tThu, 01 Jan 1970 00:00:00 +0000\r\n");
  info.for_recipient.clear();
  EXPECT_EQ(build_received_header(info).find("for <"), std::string::npos);
}

// RFC 6409 §8: an MSA configured to hide the submitter leaves out its address.
TEST(ReceivedHeader, WithoutClientAddress) {
  ReceivedInfo info;
  info.helo = "laptop";
  info.by_host = "mx.example.test";
  info.protocol = "ESMTPSA";
  info.queue_id = "0123456789ABCDEF";
  info.when = at(0);
  EXPECT_EQ(build_received_header(info),
            "Received: from laptop\r\n"
            "\tby mx.example.test (Tern) with ESMTPSA id 0123456789ABCDEF;\r\n"
            "\tThu, 01 Jan 1970 00:00:00 +0000\r\n");
}

// The HELO name is the client's: it must not be able to add lines or comments.
TEST(ReceivedHeader, HeloIsSanitised) {
  ReceivedInfo info;
  info.helo = "evil\r\nX-Injected: yes (comment) \\";
  info.client_ip = "192.0.2.1";
  info.by_host = "mx";
  info.protocol = "SMTP";
  info.queue_id = "Q";
  std::string h = build_received_header(info);
  EXPECT_EQ(h.find("X-Injected: yes\r\n"), std::string::npos);
  EXPECT_TRUE(h.starts_with("Received: from evil??X-Injected:?yes??comment??? ([192.0.2.1])\r\n")) << h;
  info.helo.clear();
  EXPECT_TRUE(build_received_header(info).starts_with("Received: from unknown ("));
}

TEST(ReceivedHeader, DeliveryHeaders) {
  EXPECT_EQ(build_delivery_headers("a@b.example", "demo@example.test"),
            "Return-Path: <a@b.example>\r\nDelivered-To: demo@example.test\r\n");
  // The null reverse path (bounces) is "<>".
  EXPECT_EQ(build_delivery_headers("", "demo@example.test"), "Return-Path: <>\r\nDelivered-To: demo@example.test\r\n");
}

}  // namespace
}  // namespace tern
