// A tiny DSL for SMTP session tests, after Stalwart's: a transcript of client
// lines and expected reply prefixes, run through a fresh ServerSession fed in
// chunks of 1, 2, 3, 7 and 64 bytes and whole. Every chunking must give the
// same reply bytes and the same service calls (RFC 5321 has no notion of
// packets; a server that answers differently by chunking is wrong).
//
// Script syntax, one directive per line (leading blanks ignored, '#' comments):
//   C: text      client line; CRLF is appended ("C:" alone sends an empty line)
//   R: text      raw client bytes, no CRLF added; escapes \r \n \t \\ \xNN
//   S: prefix    the next reply line must start with prefix
//   S: @ehlo     the seven lines of our EHLO reply, in order
// The number of reply lines must match the number of S: lines exactly.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/smtp/server_session.hpp"
#include "tests/unit/protocol/smtp/fake_services.hpp"

namespace tern::smtp::testing {

struct SessionOptions {
  std::string hostname = "mx.example.test";
  SmtpConfig limits{};
  std::string client_ip = "192.0.2.1";
};

struct Script {
  std::string client;                 // every byte the client sends
  std::vector<std::string> expected;  // reply-line prefixes, in order
};
Script parse_script(std::string_view text);

struct SessionRun {
  std::string output;              // every reply byte, in order
  std::vector<std::string> lines;  // output split at CRLF
  FakeServices services;           // its state after the run
  bool closing = false;
  std::size_t max_pending = 0;     // largest pending_input() seen after a feed
};

// The driver contract: start(), then feed(); after each feed, while the
// session awaits a commit, services.commit() and on_commit(); collect
// output() and clear_output(). chunk == 0 feeds everything at once.
SessionRun run_session(std::string_view client_bytes, std::size_t chunk, FakeServices services,
                       const SessionOptions& options = {});

// Runs the script in every chunking, checks the replies against the S: lines
// and that all chunkings agree; returns the run of the whole-input feed.
SessionRun expect_transcript(std::string_view script, const FakeServices& services = {},
                             const SessionOptions& options = {});

inline constexpr std::size_t chunk_sizes[] = {1, 2, 3, 7, 64, 0};

}  // namespace tern::smtp::testing
