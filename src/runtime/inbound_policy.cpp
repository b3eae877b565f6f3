#include "runtime/inbound_policy.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <mutex>

#include "services/durable_file.hpp"

namespace tern::runtime {
namespace asio = boost::asio;

std::string authserv_id(const Config& config) {
  return config.checks.authserv_id.empty() ? config.hostname : config.checks.authserv_id;
}

asio::awaitable<inbound::ClientFacts> learn_client(ServerContext& ctx, const Config& config, IpAddress ip) {
  dns::Resolver* resolver = ctx.resolver();
  if (!resolver) co_return inbound::ClientFacts{};
  const std::vector<std::string> zones = config.checks.dnsbl;
  // Named, and capturing only trivially destructible things: g++ 12 destroys
  // lambda temporaries in co_await expressions twice (GCC PR 99576).
  auto initiate = [resolver, zones = &zones, ip](auto handler) {
        struct State {
          std::mutex mu;
          int left = 2;
          inbound::ClientFacts facts;
        };
        auto st = std::make_shared<State>();
        auto executor = asio::get_associated_executor(handler);
        auto shared_handler = std::make_shared<decltype(handler)>(std::move(handler));
        auto one_done = [st, executor, shared_handler] {
          {
            std::lock_guard lock(st->mu);
            if (--st->left != 0) return;
          }
          asio::post(executor, [st, shared_handler] { (*shared_handler)(std::move(st->facts)); });
        };
        abuse::check_dnsbl(*resolver, ip, *zones, [st, one_done](std::vector<abuse::DnsblHit> hits) {
          {
            std::lock_guard lock(st->mu);
            st->facts.dnsbl = std::move(hits);
          }
          one_done();
        });
        abuse::check_iprev(*resolver, ip, [st, one_done](abuse::IprevOutcome o) {
          {
            std::lock_guard lock(st->mu);
            st->facts.iprev = std::move(o);
          }
          one_done();
        });
      };
  co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(inbound::ClientFacts)>(
      initiate, asio::use_awaitable);
}

asio::awaitable<inbound::CheckVerdict> judge_message(ServerContext& ctx, const Config& config,
                                                     inbound::CheckRequest request) {
  dns::Resolver* resolver = ctx.resolver();
  if (!resolver) co_return inbound::CheckVerdict{};
  auto checker = std::make_shared<inbound::InboundChecker>(*resolver, ctx.public_suffix_list(), config.checks,
                                                           authserv_id(config), config.hostname);
  // See learn_client: a named lambda with trivially destructible captures.
  auto initiate = [c = checker.get(), rq = &request](auto handler) {
    auto executor = asio::get_associated_executor(handler);
    auto shared_handler = std::make_shared<decltype(handler)>(std::move(handler));
    c->check(std::move(*rq), [executor, shared_handler](inbound::CheckVerdict v) {
      asio::post(executor, [shared_handler, v = std::move(v)]() mutable { (*shared_handler)(std::move(v)); });
    });
  };
  // `checker` (and the resolver) stay alive in this frame until the answer.
  co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(inbound::CheckVerdict)>(
      initiate, asio::use_awaitable);
}

void ServerContext::record_dmarc(const std::filesystem::path& data_dir, std::string line) {
  asio::post(pool_, [this, dir = data_dir / "dmarc", line = std::move(line)] {
    std::lock_guard lock(dmarc_mu_);
    if (!make_private_dirs(dir)) return;
    int fd = ::open((dir / "records.jsonl").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return;
    std::string l = line + "\n";
    // One write per line with O_APPEND: lines never interleave.
    [[maybe_unused]] auto n = ::write(fd, l.data(), l.size());
    ::close(fd);
  });
}

}  // namespace tern::runtime
