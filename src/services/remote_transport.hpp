// The boundary between the queue (services) and outbound SMTP (runtime): the
// queue hands over a message and the remote recipients to try; the transport
// routes them (MX or relay host), talks SMTP, and reports each recipient's
// outcome. The contract (after maddy's delivery target and chasquid's
// courier): every outcome says delivered, temporary or permanent, so the queue
// chooses retry or bounce without matching strings.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "services/spool.hpp"

namespace tern {

struct RemoteOutcome {
  enum class Kind { delivered, temporary, permanent };
  std::size_t index = 0;   // recipient index in the envelope
  Kind kind = Kind::temporary;
  std::string status;      // RFC 3463 code, e.g. "5.1.1"
  std::string diagnostic;  // the reply or the local reason, for logs and bounces
  std::string remote_mta;  // the host that answered, if any
};

struct RemoteRequest {
  QueueEnvelope envelope;
  std::vector<std::size_t> recipients;          // indices into envelope.recipients
  std::shared_ptr<const std::string> payload;   // holds the message in memory
  std::size_t message_offset = 0;               // the message starts here in payload
  std::string_view message() const { return std::string_view(*payload).substr(message_offset); }
};

class RemoteTransport {
 public:
  virtual ~RemoteTransport() = default;
  // done is called exactly once, with one outcome per requested recipient,
  // from a transport thread: it must not block.
  virtual void send(RemoteRequest request, std::function<void(std::vector<RemoteOutcome>)> done) = 0;
};

}  // namespace tern
