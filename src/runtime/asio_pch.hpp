// Precompiled header for the runtime layer only: Asio is slow to parse, and
// no header outside src/runtime may include it.
#pragma once
#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl.hpp>
