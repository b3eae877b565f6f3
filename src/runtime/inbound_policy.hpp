// The asynchronous parts of inbound policy, as awaitables for the SMTP
// connection coroutine: what DNS says about a client at connect time
// (blocklists, iprev), and the judgement of a message at the end of DATA
// (services/inbound_checks). Resolver callbacks are posted back to the
// coroutine's executor, so the session never sees another thread.
#pragma once
#include <boost/asio/awaitable.hpp>

#include "runtime/server_context.hpp"
#include "services/inbound_checks.hpp"
#include "services/message_intake.hpp"

namespace tern::runtime {

// `listener` gives the checks and limits that apply (its overrides of the
// global [checks] and [limits]); `config` the rest (host name, data_dir).

// DNSBL zones of [checks] and iprev, asked at once. Without a resolver: nothing.
boost::asio::awaitable<inbound::ClientFacts> learn_client(ServerContext& ctx, const ChecksConfig& checks,
                                                          IpAddress ip);

boost::asio::awaitable<inbound::CheckVerdict> judge_message(ServerContext& ctx, const Config& config,
                                                            const ChecksConfig& checks, inbound::CheckRequest request);

// The Authentication-Results id: [checks] authserv_id, or the host name.
std::string authserv_id(const Config& config, const ChecksConfig& checks);

// A per-IP connection slot, released when the session ends, however it ends.
struct ConnectionSlot {
  abuse::ConnectionCounter* counter = nullptr;
  std::string key;
  ConnectionSlot() = default;
  ConnectionSlot(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(const ConnectionSlot&) = delete;
  ~ConnectionSlot() {
    if (counter) counter->release(key);
  }
};

// Before the greeting, for a client the checks apply to: [limits] on
// connections (421 4.7.0), DNS blocklists (a listing with dnsbl_action
// "reject" blocks every MAIL through `policy`), iprev into `facts`, and
// the greet pause (554 5.5.1 to a client that talks first; only when
// `may_pause`). False: the client got its refusal; end the connection.
boost::asio::awaitable<bool> screen_client(Connection& conn, ServerContext& ctx, const Config& config,
                                           const ListenerConfig& listener, std::uint64_t sid, IpAddress ip,
                                           abuse::ClientPolicy& policy,
                                           ConnectionSlot& slot, inbound::ClientFacts& facts, bool may_pause);

// At the end of DATA, for a message held in memory: judges it (SPF, DKIM,
// DMARC, sender-domain lists), records the DMARC report line, and either
// refuses it (the intake discards it, the session answers; returns false)
// or amends it (Authentication-Results on top, forged ones out, Junk).
boost::asio::awaitable<bool> judge_message_in_session(ServerContext& ctx, const Config& config,
                                                      const ListenerConfig& listener, std::uint64_t sid,
                                                      smtp::ServerSession& session, MessageIntake& intake,
                                                      IpAddress ip, const inbound::ClientFacts& facts);

}  // namespace tern::runtime
