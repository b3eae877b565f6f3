#include "base/queue_id.hpp"

#include <atomic>
#include <chrono>
#include <unistd.h>

namespace tern {
namespace {
constexpr char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

void append_base36(std::string& out, unsigned long long v, int width) {
  std::string tmp(width, '0');
  for (int i = width - 1; i >= 0; --i) {
    tmp[i] = digits[v % 36];
    v /= 36;
  }
  out += tmp;
}
}  // namespace

std::string make_queue_id() {
  static std::atomic<unsigned> counter{0};
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  unsigned n = counter.fetch_add(1, std::memory_order_relaxed);
  std::string id;
  id.reserve(16);
  append_base36(id, static_cast<unsigned long long>(us), 11);  // good until year 3700+
  append_base36(id, (static_cast<unsigned long long>(getpid()) * 46656u + n) % 60466176u, 5);
  return id;
}

bool is_valid_queue_id(std::string_view id) {
  if (id.size() != 16) return false;
  for (char c : id)
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z'))) return false;
  return true;
}

}  // namespace tern
