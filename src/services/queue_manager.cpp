#include "services/queue_manager.hpp"

#include <chrono>
#include <spdlog/spdlog.h>

namespace tern {
namespace {
std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

QueueManager::QueueManager(QueueSettings settings, const Spool& spool, const LocalDelivery& local)
    : settings_(settings), spool_(spool), local_(local) {}

QueueManager::~QueueManager() { stop(); }

void QueueManager::start() {
  std::size_t cleaned = spool_.clean_incoming();
  if (cleaned) spdlog::info("event=queue_cleanup removed_unacknowledged={}", cleaned);
  auto ids = spool_.list();
  {
    std::lock_guard lock(mu_);
    for (auto& id : ids) ready_.push_back(std::move(id));
  }
  if (!ids.empty()) spdlog::info("event=queue_resume messages={}", ids.size());
  for (unsigned i = 0; i < settings_.workers; ++i) threads_.emplace_back([this] { worker(); });
}

void QueueManager::enqueue(const std::string& id) {
  {
    std::lock_guard lock(mu_);
    ready_.push_back(id);
  }
  cv_.notify_one();
}

void QueueManager::flush() {
  {
    std::lock_guard lock(mu_);
    for (auto& [when, id] : deferred_) ready_.push_back(id);
    deferred_.clear();
  }
  cv_.notify_all();
}

void QueueManager::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

std::size_t QueueManager::deliveries() const {
  std::lock_guard lock(mu_);
  return completed_;
}

void QueueManager::worker() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    // Move due deferred messages to the ready list.
    auto now = now_seconds();
    while (!deferred_.empty() && deferred_.begin()->first <= now) {
      ready_.push_back(deferred_.begin()->second);
      deferred_.erase(deferred_.begin());
    }
    if (ready_.empty()) {
      if (deferred_.empty()) cv_.wait(lock);
      else cv_.wait_for(lock, std::chrono::seconds(deferred_.begin()->first - now));
      continue;
    }
    std::string id = std::move(ready_.front());
    ready_.pop_front();
    if (busy_.contains(id)) continue;  // another worker has it; it reschedules itself
    busy_.insert(id);
    lock.unlock();
    process(id);
    lock.lock();
    busy_.erase(id);
  }
}

void QueueManager::process(const std::string& id) {
  auto entry = spool_.read(id);
  if (!entry) {
    // A vanished file was deleted by an administrator; anything else is logged
    // and left in place for a person to look at.
    if (errno != ENOENT) spdlog::error("queue_id={} event=queue_read_failed error=\"{}\"", id, entry.error().detail);
    return;
  }
  auto now = now_seconds();
  std::int64_t next_due = 0;
  for (std::size_t i = 0; i < entry->recipients.size(); ++i) {
    auto& st = entry->recipients[i];
    const auto& rcpt = entry->envelope.recipients[i];
    if (st.status == RecipientStatus::delivered || st.status == RecipientStatus::failed) continue;
    if (st.status == RecipientStatus::deferred && st.next_attempt > now) {
      next_due = next_due == 0 ? st.next_attempt : std::min(next_due, st.next_attempt);
      continue;
    }
    // Several recipients may end in one mailbox (aliases): one copy is enough.
    bool duplicate = false;
    for (std::size_t j = 0; j < i; ++j)
      if (entry->envelope.recipients[j].mailbox == rcpt.mailbox && !rcpt.mailbox.empty() &&
          entry->recipients[j].status == RecipientStatus::delivered)
        duplicate = true;
    ++st.attempts;
    Result<void> r;
    if (duplicate) {
      r = {};
    } else if (rcpt.mailbox.empty()) {
      r = std::unexpected(Error::temporary("remote delivery not available", "no remote delivery in this build"));
    } else {
      r = local_.deliver(*entry, rcpt.mailbox);
    }
    if (r) {
      st.status = RecipientStatus::delivered;
      st.last_error.clear();
      spdlog::info("queue_id={} event=delivered to=<{}> mailbox={} attempts={}{}", id, rcpt.address, rcpt.mailbox,
                   st.attempts, duplicate ? " duplicate=yes" : "");
    } else {
      st.status = RecipientStatus::deferred;
      st.next_attempt = now + settings_.retry_interval;
      st.last_error = r.error().client_text;
      next_due = next_due == 0 ? st.next_attempt : std::min(next_due, st.next_attempt);
      spdlog::warn("queue_id={} event=deferred to=<{}> attempts={} error=\"{}\"", id, rcpt.address, st.attempts,
                   r.error().detail);
    }
    if (auto rec = spool_.record(id, i, st); !rec)
      spdlog::error("queue_id={} event=status_write_failed error=\"{}\"", id, rec.error().detail);
  }
  if (entry->done()) {
    if (auto r = spool_.remove(id); !r)
      spdlog::error("queue_id={} event=remove_failed error=\"{}\"", id, r.error().detail);
    std::lock_guard lock(mu_);
    ++completed_;
    return;
  }
  if (next_due) {
    std::lock_guard lock(mu_);
    deferred_.emplace(next_due, id);
  }
}

}  // namespace tern
