// The asynchronous parts of inbound policy, as awaitables for the SMTP
// connection coroutine: what DNS says about a client at connect time
// (blocklists, iprev), and the judgement of a message at the end of DATA
// (services/inbound_checks). Resolver callbacks are posted back to the
// coroutine's executor, so the session never sees another thread.
#pragma once
#include <boost/asio/awaitable.hpp>

#include "runtime/server_context.hpp"
#include "services/inbound_checks.hpp"

namespace tern::runtime {

// DNSBL zones of [checks] and iprev, asked at once. Without a resolver: nothing.
boost::asio::awaitable<inbound::ClientFacts> learn_client(ServerContext& ctx, const Config& config, IpAddress ip);

boost::asio::awaitable<inbound::CheckVerdict> judge_message(ServerContext& ctx, const Config& config,
                                                            inbound::CheckRequest request);

// The Authentication-Results id: [checks] authserv_id, or the host name.
std::string authserv_id(const Config& config);

}  // namespace tern::runtime
