// Where blocking work goes (fsync, file copies, later SQLite and password
// hashing): a thread pool separate from the I/O threads. run_blocking() lets a
// connection coroutine await such work and resume on its own executor.
#pragma once
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <type_traits>

namespace tern::runtime {

template <typename F>
boost::asio::awaitable<std::invoke_result_t<F&>> run_blocking(boost::asio::thread_pool& pool, F fn) {
  using R = std::invoke_result_t<F&>;
  // Named, not a temporary in the co_await expression: g++ 12 may destroy
  // such a temporary twice (GCC PR 99576).
  auto task = [fn = std::move(fn)]() mutable -> boost::asio::awaitable<R> { co_return fn(); };
  co_return co_await boost::asio::co_spawn(pool, std::move(task), boost::asio::use_awaitable);
}

// Many fsyncs in flight at once are cheaper than one after another: the file
// system commits them together. So the pool is wide, not "one per core".
unsigned blocking_pool_size();

}  // namespace tern::runtime
