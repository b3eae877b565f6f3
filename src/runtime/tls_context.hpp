// The server's TLS context: TLS 1.2 and 1.3 only, server cipher preference,
// the certificate and key from [tls] — or, when none is configured, a
// self-signed pair generated once in <data_dir>/tls/ (and said so in the log),
// so STARTTLS works out of the box. Runtime-internal.
#pragma once
#include <memory>

#include <boost/asio/ssl/context.hpp>

#include "base/config.hpp"
#include "base/error.hpp"

namespace tern::runtime {

Result<std::shared_ptr<boost::asio::ssl::context>> make_server_tls_context(const Config& config);

}  // namespace tern::runtime
