// libFuzzer target for the SMTP client's input: arbitrary server bytes into
// ReplyParser alone (with round-trip and limit checks) and into a
// ClientSession driven like the runtime drives it. Nothing may crash, hang or
// grow without bound, and no credential may reach the trace.
//
// Input layout: byte 0 picks the chunk size, byte 1 the session settings
// (TLS mode, credentials, handshake result, quit or keep reading); the rest
// is what "the server" sends.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "base/base64.hpp"
#include "fuzz_check.hpp"
#include "protocol/smtp/client_session.hpp"
#include "protocol/smtp/reply_parser.hpp"

namespace {

using namespace tern::smtp;

void fuzz_parser(std::string_view input, std::size_t chunk, ReplyLimits limits) {
  ReplyParser parser(limits);
  // A second parser re-reads what the first produced, rendered canonically;
  // rendering may add the enhanced code to lines, so it gets more room.
  ReplyParser again(ReplyLimits{limits.max_line + 16, limits.max_lines});
  for (std::size_t pos = 0; pos < input.size() && !parser.failed(); pos += chunk) {
    std::string_view piece = input.substr(pos, chunk);
    while (!piece.empty()) {
      ReplyStep step = parser.parse(piece);
      if (!step) {
        FUZZ_CHECK(parser.failed());
        FUZZ_CHECK(!step.error().reason.empty());
        return;
      }
      if (!*step) {
        FUZZ_CHECK(piece.empty());
        break;
      }
      const Reply& r = **step;
      FUZZ_CHECK(r.code >= 200 && r.code <= 599);
      FUZZ_CHECK(!r.lines.empty() && r.lines.size() <= limits.max_lines);
      // "250 " + text + LF (a bare LF is tolerated) fits in max_line.
      for (const auto& l : r.lines) FUZZ_CHECK(l.size() + 5 <= limits.max_line);
      FUZZ_CHECK(r.enhanced.empty() || enhanced_code_length(r.enhanced, r.code) == r.enhanced.size());
      std::string wire;
      r.render(wire, true);
      std::string_view w = wire;
      ReplyStep back = again.parse(w);
      FUZZ_CHECK(back && *back && w.empty());
      FUZZ_CHECK((*back)->code == r.code && (*back)->enhanced == r.enhanced && (*back)->lines == r.lines);
    }
  }
}

OutgoingMessage fixed_message(int n) {
  OutgoingMessage m;
  m.mail_from = n == 0 ? "sender@example.org" : "";
  m.recipients = {"a@example.test", "b@example.test", "c@example.test"};
  m.size = 40;
  m.body_8bit = n == 1;
  m.needs_smtputf8 = n == 1;
  return m;
}

constexpr std::string_view body = "Subject: fuzz\r\n\r\n.dot\r\n.\r\nend";
constexpr std::string_view password = "s3cret-pw";

void fuzz_session(std::string_view input, std::size_t chunk, std::uint8_t flags) {
  ClientSettings settings;
  settings.helo_name = "client.example.test";
  settings.tls = static_cast<ClientTls>(flags & 3);
  if (flags & 4) settings.credentials = ClientCredentials{"user@example.test", std::string(password)};
  bool tls_fails = flags & 8;
  bool keep_reading = flags & 16;  // never quit: read until the server stops
  ClientSession s(settings);
  const std::string secrets[] = {std::string(password), tern::base64_encode(password),
                                 tern::base64_encode(std::string("\0user@example.test\0", 19) + std::string(password))};

  int given = 0, results = 0;
  bool quit_sent = false;
  auto collect = [&] {
    FUZZ_CHECK(s.output().size() < 8192);
    for (const auto& line : s.redacted_trace())
      for (const auto& secret : secrets) FUZZ_CHECK(line.find(secret) == std::string::npos);
    s.clear_output();
    while (auto r = s.take_result()) {
      FUZZ_CHECK(r->recipients.size() == 3);
      ++results;
    }
    FUZZ_CHECK(results <= given);
  };
  auto pump = [&] {
    for (int steps = 0; steps < 100; ++steps) {
      collect();
      switch (s.action()) {
        case ClientAction::ready:
          if (given < 2) {
            s.send_message(fixed_message(given++));
          } else if (!quit_sent && !keep_reading) {
            quit_sent = true;
            s.quit();
          } else {
            return;
          }
          break;
        case ClientAction::start_tls:
          if (tls_fails) s.on_tls_failed("fuzz");
          else s.on_tls_started();
          break;
        case ClientAction::send_body:
          for (std::size_t pos = 0; pos < body.size(); pos += 7) {
            s.send_body_chunk(body.substr(pos, 7));
            collect();
          }
          s.end_body();
          break;
        case ClientAction::read_reply:
          FUZZ_CHECK(s.timeout_for_current_state().count() > 0);
          return;
        case ClientAction::close: return;
      }
    }
    std::abort();  // a driver loop that never waits for the server is a hang
  };

  pump();
  for (std::size_t pos = 0; pos < input.size() && s.action() != ClientAction::close; pos += chunk) {
    s.feed(input.substr(pos, chunk));
    pump();
  }
  if (flags & 32) s.on_timeout();
  else s.on_connection_closed();
  pump();
  FUZZ_CHECK(s.action() == ClientAction::close);
  // Every message given got exactly one result.
  FUZZ_CHECK(results == given);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  std::size_t chunk = data[0] % 16 + 1;
  if (data[0] >= 240) chunk = size;  // sometimes everything at once
  std::uint8_t flags = data[1];
  std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);
  fuzz_parser(input, chunk, ReplyLimits{});
  fuzz_parser(input, chunk, ReplyLimits{64, 4});
  fuzz_session(input, chunk, flags);
  return 0;
}
