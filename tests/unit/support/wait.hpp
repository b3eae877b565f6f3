// Polls a condition until it holds or a deadline passes: tests of threaded
// code wait for an outcome, never for a fixed time.
#pragma once
#include <chrono>
#include <thread>

namespace tern::testing {

template <typename Pred>
bool wait_until(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

}  // namespace tern::testing
