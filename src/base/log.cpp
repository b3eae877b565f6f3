#include "base/log.hpp"

#include <spdlog/async.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace tern {

void init_logging(const std::string& level) {
  spdlog::init_thread_pool(65536, 1);
  auto logger = spdlog::create_async<spdlog::sinks::stderr_sink_mt>("tern");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%fZ %l %v", spdlog::pattern_time_type::utc);
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

void flush_logging() {
  if (auto l = spdlog::default_logger()) l->flush();
}

}  // namespace tern
