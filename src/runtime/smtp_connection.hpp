// Drives one SMTP server session over a socket: read with a deadline, feed the
// session, write its replies, run commits on the blocking pool. All protocol
// decisions live in smtp::ServerSession; this file only moves bytes.
#pragma once
#include <memory>

#include <boost/asio/awaitable.hpp>

#include "runtime/server_context.hpp"

namespace tern::runtime {

// kind: smtp (port 25 style), submission (AUTH required before MAIL, RFC
// 6409), submissions (the same over implicit TLS, RFC 8314).
// listener: the index of the listener in the config (its `checks`, and the
// [checks]/[limits] that apply there, for clients that are neither
// authenticated nor in trusted_networks).
boost::asio::awaitable<void> serve_smtp(std::shared_ptr<Connection> conn, ServerContext& ctx, ListenerKind kind,
                                        std::size_t listener);

}  // namespace tern::runtime
