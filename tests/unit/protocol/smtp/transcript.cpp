#include "tests/unit/protocol/smtp/transcript.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace tern::smtp::testing {
namespace {

std::string unescape(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out += s[i];
      continue;
    }
    char e = s[++i];
    switch (e) {
      case 'r': out += '\r'; break;
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case 'x':
        out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
        i += 2;
        break;
      default: out += e; break;
    }
  }
  return out;
}

std::vector<std::string> split_lines(std::string_view out) {
  std::vector<std::string> lines;
  while (!out.empty()) {
    auto end = out.find("\r\n");
    if (end == std::string_view::npos) {
      lines.emplace_back(out);  // an unterminated reply line is itself a bug; keep it visible
      break;
    }
    lines.emplace_back(out.substr(0, end));
    out.remove_prefix(end + 2);
  }
  return lines;
}

std::string journal_of(const FakeServices& s) {
  std::string j;
  for (const auto& e : s.journal) j += e + "\n";
  for (const auto& m : s.committed) j += "message " + m.id + " " + std::to_string(m.body.size()) + ":" + m.body + "\n";
  return j;
}

}  // namespace

Script parse_script(std::string_view text) {
  Script script;
  std::istringstream in{std::string(text)};
  std::string raw;
  while (std::getline(in, raw)) {
    std::string_view line = raw;
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line.empty() || line.front() == '#') continue;
    if (line.size() < 2 || line[1] != ':') throw std::invalid_argument("bad script line: " + raw);
    char kind = line[0];
    std::string_view body = line.substr(2);
    if (!body.empty() && body.front() == ' ') body.remove_prefix(1);
    switch (kind) {
      case 'C':
        script.client.append(body);
        script.client += "\r\n";
        break;
      case 'R':
        script.client += unescape(body);
        break;
      case 'S':
        if (body == "@ehlo") {
          for (const char* l : {"250-", "250-PIPELINING", "250-SIZE ", "250-8BITMIME", "250-SMTPUTF8",
                                "250-ENHANCEDSTATUSCODES", "250 HELP"})
            script.expected.emplace_back(l);
        } else {
          script.expected.emplace_back(body);
        }
        break;
      default:
        throw std::invalid_argument("bad script line: " + raw);
    }
  }
  return script;
}

SessionRun run_session(std::string_view client, std::size_t chunk, FakeServices services,
                       const SessionOptions& options) {
  SessionSettings settings{options.hostname, options.limits};
  SessionRun run;
  run.services = std::move(services);
  ServerSession session(settings, run.services, options.client_ip);
  session.start();
  auto collect = [&] {
    while (session.awaiting_commit()) session.on_commit(run.services.commit());
    run.output += session.output();
    session.clear_output();
    run.max_pending = std::max(run.max_pending, session.pending_input());
  };
  collect();
  std::size_t step = chunk == 0 ? std::max<std::size_t>(client.size(), 1) : chunk;
  for (std::size_t pos = 0; pos < client.size() && !session.closing(); pos += step) {
    session.feed(client.substr(pos, step));
    collect();
  }
  run.closing = session.closing();
  run.lines = split_lines(run.output);
  return run;
}

SessionRun expect_transcript(std::string_view text, const FakeServices& services, const SessionOptions& options) {
  Script script = parse_script(text);
  SessionRun whole = run_session(script.client, 0, services, options);

  // The replies, line by line against the script.
  bool match = whole.lines.size() == script.expected.size();
  for (std::size_t i = 0; match && i < script.expected.size(); ++i)
    match = whole.lines[i].starts_with(script.expected[i]);
  if (!match) {
    std::string want, got;
    for (const auto& e : script.expected) want += "  S: " + e + "\n";
    for (const auto& l : whole.lines) got += "  " + l + "\n";
    ADD_FAILURE() << "replies do not match the transcript\nexpected prefixes:\n" << want << "got:\n" << got;
  }

  // Every chunking must behave exactly like the whole feed.
  for (std::size_t chunk : chunk_sizes) {
    if (chunk == 0) continue;
    SessionRun r = run_session(script.client, chunk, services, options);
    EXPECT_EQ(r.output, whole.output) << "replies differ when fed in chunks of " << chunk;
    EXPECT_EQ(journal_of(r.services), journal_of(whole.services))
        << "service calls differ when fed in chunks of " << chunk;
    EXPECT_EQ(r.closing, whole.closing) << "chunks of " << chunk;
  }
  return whole;
}

}  // namespace tern::smtp::testing
