// Outbound SMTP: the RemoteTransport the queue hands remote recipients to.
// Groups recipients by destination (their domain, or the relay host), finds
// the destination's servers through the router (MX or smart host), and drives
// smtp::ClientSession over Asio sockets with opportunistic STARTTLS, reusing a
// connection for the next message to the same destination. Runtime-internal:
// the queue sees only RemoteTransport.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "base/config.hpp"
#include "base/error.hpp"
#include "services/remote_transport.hpp"

namespace tern::runtime {

// One address to try, in order of preference.
struct Target {
  std::string host;     // the MX (or relay) host name, for logs and Remote-MTA
  std::string address;  // literal IP
  std::uint16_t port = 25;
};

// Finds the ordered targets for a destination domain; the callback may run on
// any thread. A permanent error (null MX, no such domain) bounces; a temporary
// one defers.
using Router = std::function<void(const std::string& domain, std::function<void(Result<std::vector<Target>>)>)>;

class OutboundTransport final : public RemoteTransport {
 public:
  OutboundTransport(boost::asio::io_context& io, const Config& config, Router router);
  ~OutboundTransport() override;
  void send(RemoteRequest request, std::function<void(std::vector<RemoteOutcome>)> done) override;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace tern::runtime
