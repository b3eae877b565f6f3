#include "services/queue_manager.hpp"

#include <cerrno>
#include <chrono>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

namespace tern {
namespace {
std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// syncfs(2) on the file system holding dir: one flush for a whole batch of
// Maildir files (and their directory entries).
Result<void> sync_filesystem(const std::filesystem::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return std::unexpected(Error::from_errno("open " + dir.string(), errno));
  if (::syncfs(fd.get()) != 0) return std::unexpected(Error::from_errno("syncfs " + dir.string(), errno));
  return {};
}
}  // namespace

QueueManager::QueueManager(QueueSettings settings, const Spool& spool, const LocalDelivery& local, CommitLog& log)
    : settings_(settings), spool_(spool), local_(local), log_(log) {}

QueueManager::~QueueManager() { stop(); }

void QueueManager::start() {
  std::size_t cleaned = spool_.clean_incoming();
  if (cleaned) spdlog::info("event=queue_cleanup removed_unacknowledged={}", cleaned);
  replay_old_segments();
  auto ids = spool_.list();
  {
    std::lock_guard lock(mu_);
    for (auto& id : ids) ready_.push_back(Job{std::move(id), std::nullopt});
  }
  if (!ids.empty()) spdlog::info("event=queue_resume messages={}", ids.size());
  for (unsigned i = 0; i < settings_.workers; ++i) threads_.emplace_back([this] { worker(); });
  sync_thread_ = std::thread([this] { syncer(); });
}

void QueueManager::replay_old_segments() {
  for (const auto& segment : log_.old_segments()) {
    std::size_t delivered = 0;
    auto n = CommitLog::read_segment(segment, [&](std::string_view payload) {
      auto end = payload.find("\n\n");
      if (end == std::string_view::npos) return;
      auto env = parse_envelope(payload.substr(0, end + 1));
      if (!env) {
        spdlog::error("event=replay_skipped segment={} error=\"{}\"", segment.filename().string(), env.error().detail);
        return;
      }
      MemoryMessage m{std::move(*env), std::make_shared<const std::string>(payload), end + 2, 0};
      if (deliver_from_memory(m, true)) ++delivered;
    });
    if (!n) {
      spdlog::error("event=replay_failed segment={} error=\"{}\"", segment.filename().string(), n.error().detail);
      continue;  // kept for the next start
    }
    // Every record is now in a Maildir or in the spool: make that durable,
    // then the segment is no longer needed.
    if (auto r = sync_filesystem(local_.mail_dir()); !r) {
      spdlog::error("event=replay_failed error=\"{}\"", r.error().detail);
      continue;
    }
    ::unlink(segment.c_str());
    spdlog::info("event=log_replayed segment={} records={} delivered={}", segment.filename().string(), *n, delivered);
  }
}

void QueueManager::enqueue(const std::string& id) {
  {
    std::lock_guard lock(mu_);
    ready_.push_back(Job{id, std::nullopt});
  }
  cv_.notify_one();
}

void QueueManager::deliver(MemoryMessage message) {
  {
    std::lock_guard lock(mu_);
    ready_.push_back(Job{{}, std::move(message)});
  }
  cv_.notify_one();
}

void QueueManager::flush() {
  {
    std::lock_guard lock(mu_);
    for (auto& [when, id] : deferred_) ready_.push_back(Job{id, std::nullopt});
    deferred_.clear();
  }
  cv_.notify_all();
}

void QueueManager::stop() {
  {
    std::lock_guard lock(mu_);
    if (threads_.empty() && !sync_thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
  {
    std::lock_guard lock(mu_);
    sync_stopping_ = true;
  }
  sync_cv_.notify_all();
  if (sync_thread_.joinable()) sync_thread_.join();
}

std::size_t QueueManager::deliveries() const {
  std::lock_guard lock(mu_);
  return completed_;
}

void QueueManager::worker() {
  std::unique_lock lock(mu_);
  for (;;) {
    auto now = now_seconds();
    while (!deferred_.empty() && deferred_.begin()->first <= now) {
      ready_.push_back(Job{deferred_.begin()->second, std::nullopt});
      deferred_.erase(deferred_.begin());
    }
    while (!memory_deferred_.empty() && memory_deferred_.begin()->first <= now) {
      ready_.push_back(Job{{}, std::move(memory_deferred_.begin()->second)});
      memory_deferred_.erase(memory_deferred_.begin());
    }
    // On stop, messages already handed over in memory are still delivered
    // (they are durable in the log either way, this just saves a replay).
    bool memory_waiting = !ready_.empty() && ready_.front().memory;
    if (stopping_ && !memory_waiting) return;
    if (ready_.empty()) {
      std::int64_t due = 0;
      if (!deferred_.empty()) due = deferred_.begin()->first;
      if (!memory_deferred_.empty() && (due == 0 || memory_deferred_.begin()->first < due))
        due = memory_deferred_.begin()->first;
      if (due == 0) cv_.wait(lock);
      else cv_.wait_for(lock, std::chrono::seconds(due - now));
      continue;
    }
    Job job = std::move(ready_.front());
    ready_.pop_front();
    if (job.memory) {
      ++in_progress_;
      lock.unlock();
      process_memory(*job.memory);
      lock.lock();
      --in_progress_;
      continue;
    }
    if (busy_.contains(job.id)) continue;  // another worker has it and reschedules it
    busy_.insert(job.id);
    lock.unlock();
    process_spooled(job.id);
    lock.lock();
    busy_.erase(job.id);
  }
}

void QueueManager::syncer() {
  std::unique_lock lock(mu_);
  for (;;) {
    sync_cv_.wait(lock, [&] { return sync_stopping_ || !to_sync_.empty(); });
    if (to_sync_.empty() && sync_stopping_) return;
    std::vector<std::uint64_t> batch;
    batch.swap(to_sync_);
    lock.unlock();
    auto r = sync_filesystem(local_.mail_dir());
    lock.lock();
    if (!r) {
      // The log keeps the records; try again shortly.
      spdlog::error("event=mail_sync_failed error=\"{}\"", r.error().detail);
      to_sync_.insert(to_sync_.end(), batch.begin(), batch.end());
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::seconds(1));
      lock.lock();
      continue;
    }
    for (auto segment : batch) log_.release(segment);
  }
}

bool QueueManager::deliver_from_memory(const MemoryMessage& m, bool replay) {
  const auto& env = m.envelope;
  std::vector<std::string> done_mailboxes;
  std::vector<RecipientState> states(env.recipients.size());
  bool all_ok = true;
  for (std::size_t i = 0; i < env.recipients.size(); ++i) {
    const auto& rcpt = env.recipients[i];
    auto& st = states[i];
    st.attempts = 1;
    if (rcpt.mailbox.empty()) {
      st.status = RecipientStatus::deferred;
      st.last_error = "remote delivery not available";
      all_ok = false;
      continue;
    }
    auto seen = std::find(done_mailboxes.begin(), done_mailboxes.end(), rcpt.mailbox);
    if (seen != done_mailboxes.end()) {
      st.status = RecipientStatus::delivered;  // an alias of a mailbox already served
      continue;
    }
    auto r = local_.deliver_bytes(env, m.message(), rcpt.mailbox, i, replay);
    if (r) {
      st.status = RecipientStatus::delivered;
      done_mailboxes.push_back(rcpt.mailbox);
      if (*r)
        spdlog::info("queue_id={} event=delivered to=<{}> mailbox={} attempts=1{}", env.id, rcpt.address,
                     rcpt.mailbox, replay ? " replayed=yes" : "");
    } else {
      st.status = RecipientStatus::deferred;
      st.next_attempt = now_seconds() + settings_.retry_interval;
      st.last_error = r.error().client_text;
      all_ok = false;
      spdlog::warn("queue_id={} event=deferred to=<{}> attempts=1 error=\"{}\"", env.id, rcpt.address,
                   r.error().detail);
    }
  }
  if (all_ok) return true;
  // Some recipient must wait: move the message into the spool, where retries
  // live, with the progress made so far.
  auto f = StagedFile::create(spool_.incoming_path(env.id), spool_.active_path(env.id));
  if (f) {
    f->write(*m.payload);
    if (auto c = f->commit(); c) {
      for (std::size_t i = 0; i < states.size(); ++i) (void)spool_.record(env.id, i, states[i]);
      std::lock_guard lock(mu_);
      deferred_.emplace(now_seconds() + settings_.retry_interval, env.id);
      return true;
    } else {
      spdlog::error("queue_id={} event=spool_failed error=\"{}\"", env.id, c.error().detail);
    }
  } else {
    spdlog::error("queue_id={} event=spool_failed error=\"{}\"", env.id, f.error().detail);
  }
  return false;
}

void QueueManager::process_memory(MemoryMessage& m) {
  if (deliver_from_memory(m, false)) {
    std::lock_guard lock(mu_);
    ++completed_;
    to_sync_.push_back(m.log_segment);
    sync_cv_.notify_one();
    return;
  }
  // Neither delivered nor spooled (disk trouble): keep it in memory and try
  // again later; its log record stays, so a crash loses nothing either.
  std::lock_guard lock(mu_);
  memory_deferred_.emplace(now_seconds() + settings_.retry_interval, std::move(m));
}

void QueueManager::process_spooled(const std::string& id) {
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
      if (!rcpt.mailbox.empty() && entry->envelope.recipients[j].mailbox == rcpt.mailbox &&
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
