// Hands one message to a submission server the way a mail client does: TCP,
// STARTTLS or implicit TLS with the server's certificate checked, AUTH, one
// transaction, QUIT. It drives the pure smtp::ClientSession over a blocking
// socket (this is a command-line tool, not an I/O thread); every read and
// write has the session's RFC 5321 deadline.
#pragma once
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "protocol/smtp/client_session.hpp"

namespace tern::cli {

struct SubmitSettings {
  std::string host;
  std::string port = "587";
  smtp::ClientTls tls = smtp::ClientTls::opportunistic;
  // Check the server's certificate chain and that it names `host` (RFC 6125).
  // Off only on request (--insecure), e.g. for a self-signed test server.
  bool verify_certificate = true;
  std::string ca_file;  // extra trust anchors (PEM); the system store is used too
  std::string helo_name;
  std::optional<smtp::ClientCredentials> credentials;
  std::chrono::seconds connect_timeout{30};
};

// What to send, decided once the server's capabilities are known (8BITMIME
// changes how the text is encoded).
struct SubmitPayload {
  smtp::OutgoingMessage envelope;
  std::string data;  // CRLF line ends, not dot-stuffed
};
using PayloadBuilder = std::function<Result<SubmitPayload>(const smtp::ServerCapabilities&)>;

struct SubmitReport {
  std::optional<smtp::TransactionResult> transaction;  // nothing when it never got that far
  std::optional<smtp::ClientFailure> failure;
  std::optional<smtp::Reply> last_reply;
  bool tls = false;
  bool authenticated = false;
};

// Connect, greet, secure, authenticate, build, send, quit. A payload the
// builder refuses is returned as its Error (after a polite QUIT).
Result<SubmitReport> submit_message(const SubmitSettings& settings, const PayloadBuilder& build);

}  // namespace tern::cli
