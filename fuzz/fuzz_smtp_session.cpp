// Arbitrary client bytes into a ServerSession, driven as the runtime drives
// it (start, feed, commit when asked, collect output). Must never crash, never
// buffer more than one command line, never pass more than the size limit to
// the services, and only ever write well-formed reply lines.
//
// Input layout: byte 0 picks where the rest is split in two feeds; byte 1
// picks the chunk size of the second part, whether commits fail, and whether
// a shutdown or timeout arrives at the split point.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "protocol/smtp/server_session.hpp"

namespace {

using namespace tern;
using namespace tern::smtp;

class FuzzServices final : public SessionServices {
 public:
  bool sender_allowed(const std::string&, const MailAddress& sender) override { return !sender.is_null(); }
  RecipientVerdict check_recipient(const Envelope&, const MailAddress& rcpt) override {
    if (rcpt.domain.empty()) return RecipientVerdict::accept;  // <postmaster>
    if (rcpt.lookup_key().ends_with("@example.test")) {
      switch (rcpt.local_part.empty() ? 'a' : rcpt.local_part.front()) {
        case 'x': return RecipientVerdict::unknown_user;
        case 't': return RecipientVerdict::try_later;
        default: return RecipientVerdict::accept;
      }
    }
    return RecipientVerdict::relay_denied;
  }
  Result<std::string> open_message(const Envelope& env) override {
    FUZZ_CHECK(!env.recipients.empty());
    if (env.recipients.size() == 3) return std::unexpected(Error::temporary("Local error", "fuzz"));
    open = true;
    header_pending = true;
    body_bytes = 0;
    return std::string("FUZZ000000000001");
  }
  void write_message(std::string_view bytes) override {
    FUZZ_CHECK(open);
    if (header_pending) {
      header_pending = false;  // the session's Received: header
      return;
    }
    body_bytes += bytes.size();
  }
  void discard_message() override { open = false; }

  bool open = false;
  bool header_pending = false;
  std::uint64_t body_bytes = 0;
};

SessionSettings make_settings() {
  SessionSettings s;
  s.hostname = "mx.example.test";
  s.limits.max_message_size = 2048;
  s.limits.max_recipients = 4;
  s.limits.max_errors = 25;
  s.limits.max_received_headers = 3;
  return s;
}

// Every reply line: three digits, ' ' or '-', text without CR or LF, CRLF.
void check_output(std::string_view out) {
  while (!out.empty()) {
    auto end = out.find("\r\n");
    FUZZ_CHECK(end != std::string_view::npos);
    std::string_view line = out.substr(0, end);
    FUZZ_CHECK(line.size() >= 4);
    for (int i = 0; i < 3; ++i) FUZZ_CHECK(line[i] >= '0' && line[i] <= '9');
    FUZZ_CHECK(line[3] == ' ' || line[3] == '-');
    FUZZ_CHECK(line.find_first_of("\r\n") == std::string_view::npos);
    out.remove_prefix(end + 2);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  static const SessionSettings settings = make_settings();
  const std::uint8_t split_byte = data[0], mode = data[1];
  std::string_view input(reinterpret_cast<const char*>(data + 2), size - 2);
  std::size_t split = input.size() * split_byte / 255;
  std::size_t chunk = (mode >> 3) == 0 ? input.size() : (mode >> 3);
  bool fail_commit = mode & 4;
  int event = mode & 3;  // 1: shutdown at the split, 2: timeout at the split

  FuzzServices services;
  ServerSession session(settings, services, "192.0.2.1");
  session.start();
  auto pump = [&] {
    while (session.awaiting_commit()) {
      if (fail_commit) {
        services.open = false;
        session.on_commit(std::unexpected(Error::temporary("Local error in processing", "fuzz")));
      } else {
        services.open = false;
        session.on_commit(Result<void>{});
      }
    }
    check_output(session.output());
    session.clear_output();
    // Never more than one command line waits in the buffer.
    FUZZ_CHECK(session.pending_input() <= settings.max_command_line);
    FUZZ_CHECK(services.body_bytes <= settings.limits.max_message_size);
  };
  pump();
  auto feed = [&](std::string_view part, std::size_t step) {
    if (step == 0) step = 1;
    for (std::size_t pos = 0; pos < part.size(); pos += step) {
      bool was_closing = session.closing();
      session.feed(part.substr(pos, step));
      if (was_closing) FUZZ_CHECK(session.output().empty());  // a closed session says nothing
      pump();
    }
  };
  feed(input.substr(0, split), split);
  if (event == 1) session.on_shutdown();
  if (event == 2) session.on_timeout();
  pump();
  feed(input.substr(split), chunk);
  if (session.closing()) {
    FUZZ_CHECK(!session.awaiting_commit());
    FUZZ_CHECK(session.pending_input() == 0);
  }
  return 0;
}
