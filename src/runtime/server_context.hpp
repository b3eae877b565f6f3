// What every connection shares: the current configuration generation (swapped
// whole on SIGHUP), the blocking pool, the queue, and the live-connection
// registry used for limits and graceful shutdown. Runtime-internal.
#pragma once
#include <atomic>
#include <memory>
#include <mutex>
#include <unordered_set>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

#include "base/config.hpp"
#include "runtime/auth_throttle.hpp"
#include "runtime/blocking_pool.hpp"
#include "protocol/smtp/server_session.hpp"
#include "services/abuse/abuse_controls.hpp"
#include "services/commit_log.hpp"
#include "services/dmarc/public_suffix.hpp"
#include "services/dns/resolver.hpp"
#include "services/message_intake.hpp"
#include "services/queue_manager.hpp"
#include "services/recipient_directory.hpp"
#include "services/spool.hpp"

namespace tern::runtime {

enum class ListenerKind { smtp, submission, submissions };
inline ListenerKind listener_kind(const std::string& protocol) {
  return protocol == "submission" ? ListenerKind::submission
         : protocol == "submissions" ? ListenerKind::submissions
                                     : ListenerKind::smtp;
}

// One immutable snapshot of everything a new session reads from the config.
struct Generation {
  std::shared_ptr<const Config> config;
  std::shared_ptr<const RecipientDirectory> directory;
  smtp::SessionSettings session;
  std::shared_ptr<boost::asio::ssl::context> tls;  // null: no STARTTLS
};

struct Connection {
  explicit Connection(boost::asio::ip::tcp::socket s) : socket(std::move(s)) {}
  boost::asio::ip::tcp::socket socket;  // only touched on its own strand
  bool shutdown_requested = false;      // likewise
  std::uint64_t id = 0;
};

class ServerContext {
 public:
  ServerContext(std::shared_ptr<const Generation> generation, const Spool& spool, CommitLog& log,
                QueueManager& queue)
      : spool_(spool), log_(log), queue_(queue), generation_(std::move(generation)) {}

  std::shared_ptr<const Generation> generation() const {
    std::lock_guard lock(mu_);
    return generation_;
  }
  void set_generation(std::shared_ptr<const Generation> g) {
    std::lock_guard lock(mu_);
    generation_ = std::move(g);
  }
  IntakeContext intake_context(const Generation& g) {
    return IntakeContext{g.config,
                         g.directory,
                         &spool_,
                         &log_,
                         [this](const std::string& id) { queue_.enqueue(id); },
                         [this](MemoryMessage m) { queue_.deliver(std::move(m)); }};
  }

  // Registers a connection; false when max_connections is reached.
  bool admit(const std::shared_ptr<Connection>& c, unsigned max) {
    std::lock_guard lock(mu_);
    if (live_.size() >= max) return false;
    c->id = ++next_id_;
    live_.insert(c);
    return true;
  }
  void leave(const std::shared_ptr<Connection>& c) {
    std::lock_guard lock(mu_);
    live_.erase(c);
  }
  std::size_t live_count() const {
    std::lock_guard lock(mu_);
    return live_.size();
  }
  std::vector<std::shared_ptr<Connection>> live() const {
    std::lock_guard lock(mu_);
    return {live_.begin(), live_.end()};
  }

  boost::asio::thread_pool& blocking_pool() { return pool_; }
  AuthThrottle& auth_throttle() { return auth_throttle_; }
  abuse::AbuseControls& abuse() { return abuse_; }

  // The inbound checks' DNS and Public Suffix List, set once at start (before
  // any listener accepts); the resolver is null when DNS could not start.
  void set_check_services(dns::Resolver* resolver, std::shared_ptr<const dmarc::PublicSuffixList> psl) {
    resolver_ = resolver;
    psl_ = std::move(psl);
  }
  dns::Resolver* resolver() const { return resolver_; }
  const std::shared_ptr<const dmarc::PublicSuffixList>& public_suffix_list() const { return psl_; }

  // Appends one line to <data_dir>/dmarc/records.jsonl, on the blocking pool.
  void record_dmarc(const std::filesystem::path& data_dir, std::string line);
  bool stopping() const { return stopping_.load(); }
  void set_stopping() { stopping_ = true; }

 private:
  const Spool& spool_;
  CommitLog& log_;
  QueueManager& queue_;
  mutable std::mutex mu_;
  std::shared_ptr<const Generation> generation_;
  std::unordered_set<std::shared_ptr<Connection>> live_;
  std::uint64_t next_id_ = 0;
  boost::asio::thread_pool pool_{blocking_pool_size()};
  std::atomic<bool> stopping_{false};
  AuthThrottle auth_throttle_;
  abuse::AbuseControls abuse_;
  dns::Resolver* resolver_ = nullptr;
  std::shared_ptr<const dmarc::PublicSuffixList> psl_;
  std::mutex dmarc_mu_;
};

}  // namespace tern::runtime
