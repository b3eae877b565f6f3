#include "services/queue_manager.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "base/queue_id.hpp"
#include "formats/dsn.hpp"

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

Result<std::shared_ptr<const std::string>> read_whole(const std::filesystem::path& p) {
  UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::unexpected(Error::from_errno("open " + p.string(), errno));
  auto data = std::make_shared<std::string>();
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::unexpected(Error::from_errno("read " + p.string(), errno));
    if (n == 0) break;
    data->append(buf, static_cast<std::size_t>(n));
  }
  return std::shared_ptr<const std::string>(std::move(data));
}

std::string header_section(std::string_view message) {
  auto end = message.find("\r\n\r\n");
  std::string_view h = message.substr(0, end == std::string_view::npos ? message.size() : end + 2);
  return std::string(h.substr(0, 64 * 1024));
}

}  // namespace

QueueManager::QueueManager(QueueSettings settings, const Spool& spool, const LocalDelivery& local, CommitLog& log,
                           std::function<std::string(const std::string&)> resolve_mailbox)
    : settings_(std::move(settings)),
      spool_(spool),
      local_(local),
      log_(log),
      resolve_mailbox_(std::move(resolve_mailbox)) {}

QueueManager::~QueueManager() { stop(); }

void QueueManager::start() {
  std::size_t cleaned = spool_.clean_incoming();
  if (cleaned) spdlog::info("event=queue_cleanup removed_unacknowledged={}", cleaned);
  replay_old_segments();
  auto ids = spool_.list();
  {
    std::lock_guard lock(mu_);
    for (auto& id : ids) ready_.push_back(Job{std::move(id), std::nullopt, std::nullopt});
  }
  if (!ids.empty()) spdlog::info("event=queue_resume messages={}", ids.size());
  for (unsigned i = 0; i < settings_.workers; ++i) threads_.emplace_back([this] { worker(); });
  sync_thread_ = std::thread([this] { syncer(); });
}

void QueueManager::replay_old_segments() {
  for (const auto& segment : log_.old_segments()) {
    std::size_t replayed = 0;
    auto n = CommitLog::read_segment(segment, [&](std::string_view payload) {
      auto end = payload.find("\n\n");
      if (end == std::string_view::npos) return;
      auto env = parse_envelope(payload.substr(0, end + 1));
      if (!env) {
        spdlog::error("event=replay_skipped segment={} error=\"{}\"", segment.filename().string(), env.error().detail);
        return;
      }
      MemoryMessage m{std::move(*env), std::make_shared<const std::string>(payload), end + 2, 0};
      auto states = deliver_local(m, true);
      // Remote recipients (and failed local ones) continue from the spool.
      bool settled = std::all_of(states.begin(), states.end(),
                                 [](const auto& s) { return s.status == RecipientStatus::delivered; });
      if (!settled) {
        for (std::size_t i = 0; i < states.size(); ++i)
          if (states[i].status != RecipientStatus::delivered) states[i] = RecipientState{};
        auto f = StagedFile::create(spool_.incoming_path(m.envelope.id), spool_.active_path(m.envelope.id));
        if (f) {
          f->write(*m.payload);
          if (f->commit())
            for (std::size_t i = 0; i < states.size(); ++i)
              if (states[i].status == RecipientStatus::delivered) (void)spool_.record(m.envelope.id, i, states[i]);
        }
      }
      ++replayed;
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
    spdlog::info("event=log_replayed segment={} records={}", segment.filename().string(), replayed);
  }
}

void QueueManager::push(Job job) {
  {
    std::lock_guard lock(mu_);
    ready_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void QueueManager::enqueue(const std::string& id) { push(Job{id, std::nullopt, std::nullopt}); }

void QueueManager::deliver(MemoryMessage message) { push(Job{{}, std::move(message), std::nullopt}); }

void QueueManager::rescan() {
  auto ids = spool_.list();
  {
    std::lock_guard lock(mu_);
    deferred_.clear();
    for (auto& id : ids) ready_.push_back(Job{std::move(id), std::nullopt, std::nullopt});
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
      ready_.push_back(Job{deferred_.begin()->second, std::nullopt, std::nullopt});
      deferred_.erase(deferred_.begin());
    }
    while (!memory_deferred_.empty() && memory_deferred_.begin()->first <= now) {
      ready_.push_back(Job{{}, std::move(memory_deferred_.begin()->second), std::nullopt});
      memory_deferred_.erase(memory_deferred_.begin());
    }
    // On stop, work already in memory is still finished (it is durable in the
    // log either way; finishing just saves a replay). Spool work waits.
    if (stopping_) {
      auto it = std::find_if(ready_.begin(), ready_.end(), [](const Job& j) { return j.memory || j.remote_done; });
      if (it == ready_.end()) return;
      Job job = std::move(*it);
      ready_.erase(it);
      lock.unlock();
      if (job.remote_done && job.remote_done->memory) finish_memory(*job.remote_done->memory, job.remote_done->memory_states);
      else if (job.memory) process_memory(*job.memory);
      lock.lock();
      continue;
    }
    if (ready_.empty()) {
      std::int64_t due = 0;
      if (!deferred_.empty()) due = deferred_.begin()->first;
      if (!memory_deferred_.empty() && (due == 0 || memory_deferred_.begin()->first < due))
        due = memory_deferred_.begin()->first;
      if (due == 0) cv_.wait(lock);
      else cv_.wait_for(lock, std::chrono::seconds(std::max<std::int64_t>(1, due - now)));
      continue;
    }
    Job job = std::move(ready_.front());
    ready_.pop_front();
    if (job.remote_done) {
      lock.unlock();
      auto& rd = *job.remote_done;
      if (rd.memory) {
        for (const auto& o : rd.outcomes) apply_outcome(rd.memory->envelope, o, rd.memory_states.at(o.index), now);
        finish_memory(*rd.memory, rd.memory_states);
      } else {
        finish_spooled(rd.spooled_id, rd.outcomes);
      }
      lock.lock();
      --remote_in_flight_;
      if (!rd.memory) busy_.erase(rd.spooled_id);
      continue;
    }
    if (job.memory) {
      lock.unlock();
      process_memory(*job.memory);
      lock.lock();
      continue;
    }
    if (busy_.contains(job.id)) continue;  // in progress; it reschedules itself
    busy_.insert(job.id);
    lock.unlock();
    process_spooled(job.id);  // may leave job.id busy while a remote attempt is in flight
    lock.lock();
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
      // Stopping: leave the records in the log; the next start replays them.
      if (sync_stopping_) return;
      to_sync_.insert(to_sync_.end(), batch.begin(), batch.end());
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::seconds(1));
      lock.lock();
      continue;
    }
    for (auto segment : batch) log_.release(segment);
  }
}

std::int64_t QueueManager::next_retry(unsigned attempts, std::int64_t now) const {
  std::uint64_t interval = settings_.retry_interval;
  for (unsigned i = 1; i < attempts && interval < settings_.max_retry_interval; ++i) interval *= 2;
  return now + static_cast<std::int64_t>(std::min<std::uint64_t>(interval, settings_.max_retry_interval));
}

void QueueManager::apply_outcome(const QueueEnvelope& env, const RemoteOutcome& o, RecipientState& st,
                                 std::int64_t now) const {
  const auto& rcpt = env.recipients[o.index];
  switch (o.kind) {
    case RemoteOutcome::Kind::delivered:
      st.status = RecipientStatus::delivered;
      st.last_error.clear();
      spdlog::info("queue_id={} event=delivered to=<{}> relay={} attempts={} reply=\"{}\"", env.id, rcpt.address,
                   o.remote_mta, st.attempts, o.diagnostic);
      return;
    case RemoteOutcome::Kind::permanent:
      st.status = RecipientStatus::failed;
      st.last_error = o.status + " " + (o.remote_mta.empty() ? "" : o.remote_mta + " said: ") + o.diagnostic;
      spdlog::info("queue_id={} event=bounce to=<{}> relay={} status={} reply=\"{}\"", env.id, rcpt.address,
                   o.remote_mta, o.status, o.diagnostic);
      return;
    case RemoteOutcome::Kind::temporary:
      st.last_error = o.status + " " + (o.remote_mta.empty() ? "" : o.remote_mta + " said: ") + o.diagnostic;
      if (now - env.arrival >= static_cast<std::int64_t>(settings_.max_lifetime)) {
        // RFC 3463 X.4.7: delivery time expired.
        st.status = RecipientStatus::failed;
        st.last_error = "4.4.7 delivery time expired; last error: " + st.last_error;
        spdlog::info("queue_id={} event=expired to=<{}> attempts={}", env.id, rcpt.address, st.attempts);
      } else {
        st.status = RecipientStatus::deferred;
        st.next_attempt = next_retry(st.attempts, now);
        spdlog::info("queue_id={} event=deferred to=<{}> relay={} attempts={} status={} reply=\"{}\"", env.id,
                     rcpt.address, o.remote_mta, st.attempts, o.status, o.diagnostic);
      }
      return;
  }
}

std::vector<RecipientState> QueueManager::deliver_local(const MemoryMessage& m, bool replay) {
  const auto& env = m.envelope;
  std::vector<std::string> done_mailboxes;
  std::vector<RecipientState> states(env.recipients.size());
  for (std::size_t i = 0; i < env.recipients.size(); ++i) {
    const auto& rcpt = env.recipients[i];
    auto& st = states[i];
    if (rcpt.mailbox.empty()) continue;  // remote: not here
    st.attempts = 1;
    if (std::find(done_mailboxes.begin(), done_mailboxes.end(), rcpt.mailbox) != done_mailboxes.end()) {
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
      st.next_attempt = next_retry(1, now_seconds());
      st.last_error = r.error().client_text;
      spdlog::warn("queue_id={} event=deferred to=<{}> attempts=1 error=\"{}\"", env.id, rcpt.address,
                   r.error().detail);
    }
  }
  return states;
}

void QueueManager::send_remote(RemoteRequest request, RemoteDone context) {
  {
    std::lock_guard lock(mu_);
    ++remote_in_flight_;
  }
  if (!transport_) {
    for (auto i : request.recipients)
      context.outcomes.push_back({i, RemoteOutcome::Kind::temporary, "4.4.0", "remote delivery is not configured", ""});
    push(Job{{}, std::nullopt, std::move(context)});
    return;
  }
  if (signer_) {
    // Sign what leaves for other domains (RFC 6376); local copies stay as they came.
    std::string signature = signer_(request.envelope, request.message());
    if (!signature.empty()) {
      auto signed_payload = std::make_shared<std::string>(std::move(signature));
      signed_payload->append(request.message());
      request.payload = std::move(signed_payload);
      request.message_offset = 0;
    }
  }
  auto shared = std::make_shared<RemoteDone>(std::move(context));
  transport_->send(std::move(request), [this, shared](std::vector<RemoteOutcome> outcomes) {
    shared->outcomes = std::move(outcomes);
    push(Job{{}, std::nullopt, std::move(*shared)});
  });
}

void QueueManager::process_memory(MemoryMessage& m) {
  auto states = deliver_local(m, false);
  RemoteRequest req;
  for (std::size_t i = 0; i < m.envelope.recipients.size(); ++i)
    if (m.envelope.recipients[i].mailbox.empty()) {
      req.recipients.push_back(i);
      states[i].attempts = 1;
    }
  if (req.recipients.empty()) {
    finish_memory(m, states);
    return;
  }
  req.envelope = m.envelope;
  req.payload = m.payload;
  req.message_offset = m.message_offset;
  RemoteDone ctx;
  ctx.memory = std::move(m);
  ctx.memory_states = std::move(states);
  send_remote(std::move(req), std::move(ctx));
}

void QueueManager::finish_memory(MemoryMessage& m, std::vector<RecipientState>& states) {
  bounce_failed(m.envelope, m.message(), states);
  bool waiting = std::any_of(states.begin(), states.end(),
                             [](const auto& s) { return s.status == RecipientStatus::deferred; });
  if (waiting) {
    // Some recipient must wait: the message moves into the spool, where retries live.
    auto f = StagedFile::create(spool_.incoming_path(m.envelope.id), spool_.active_path(m.envelope.id));
    Result<void> c = f ? Result<void>{} : Result<void>(std::unexpected(f.error()));
    if (f) {
      f->write(*m.payload);
      c = f->commit();
    }
    if (!c) {
      // Neither delivered nor spooled (disk trouble): keep it in memory and
      // try again; its log record stays, so a crash loses nothing either.
      spdlog::error("queue_id={} event=spool_failed error=\"{}\"", m.envelope.id, c.error().detail);
      std::lock_guard lock(mu_);
      memory_deferred_.emplace(next_retry(1, now_seconds()), std::move(m));
      return;
    }
    std::int64_t due = 0;
    for (std::size_t i = 0; i < states.size(); ++i) {
      (void)spool_.record(m.envelope.id, i, states[i]);
      if (states[i].status == RecipientStatus::deferred)
        due = due == 0 ? states[i].next_attempt : std::min(due, states[i].next_attempt);
    }
    std::lock_guard lock(mu_);
    deferred_.emplace(due, m.envelope.id);
    to_sync_.push_back(m.log_segment);
    sync_cv_.notify_one();
    return;
  }
  std::lock_guard lock(mu_);
  ++completed_;
  to_sync_.push_back(m.log_segment);
  sync_cv_.notify_one();
}

void QueueManager::bounce_failed(const QueueEnvelope& env, std::string_view message,
                                 std::vector<RecipientState>& states) {
  DsnReport report;
  report.reporting_mta = settings_.hostname;
  report.queue_id = env.id;
  report.arrival = std::chrono::system_clock::time_point(std::chrono::seconds(env.arrival));
  std::vector<std::size_t> failed;
  for (std::size_t i = 0; i < states.size(); ++i) {
    if (states[i].status != RecipientStatus::failed) continue;
    failed.push_back(i);
    const std::string& err = states[i].last_error;
    DsnRecipient d;
    d.final_recipient = env.recipients[i].address;
    // last_error is "<status> [<host> said: ]<reply>".
    auto sp = err.find(' ');
    d.status = err.substr(0, sp);
    if (d.status.empty() || d.status[0] < '2' || d.status[0] > '5') d.status = "5.0.0";
    if (d.status[0] == '4') d.status[0] = '5';  // a final failure (expiry) is reported as permanent
    std::string rest = sp == std::string::npos ? "" : err.substr(sp + 1);
    auto said = rest.find(" said: ");
    if (said != std::string::npos) {
      // Logs say "host[address]:port"; RFC 3464 §2.3.5 wants the host name.
      d.remote_mta = rest.substr(0, std::min(said, rest.find('[')));
      d.diagnostic = rest.substr(said + 7);
    } else {
      d.diagnostic = rest;
    }
    report.recipients.push_back(std::move(d));
  }
  if (failed.empty()) return;
  std::string to = env.sender;
  if (to.empty()) {
    // Never a bounce to <> (RFC 5321 §4.5.5); a failed bounce is a double
    // bounce for the postmaster, unless it was the postmaster's already.
    bool for_postmaster = std::all_of(failed.begin(), failed.end(), [&](std::size_t i) {
      return env.recipients[i].mailbox == resolve_mailbox_(settings_.postmaster);
    });
    to = for_postmaster ? std::string{} : settings_.postmaster;
  }
  if (to.empty()) {
    spdlog::warn("queue_id={} event=bounce_dropped reason=\"null sender, postmaster unreachable\"", env.id);
  } else {
    report.original_sender = to;
    report.original_headers = header_section(message);
    auto id = inject(to, build_dsn(report));
    if (!id) {
      spdlog::error("queue_id={} event=bounce_failed error=\"{}\"", env.id, id.error().detail);
      return;  // stays failed: tried again on the next pass
    }
    spdlog::info("queue_id={} event=bounce_sent to=<{}> bounce_id={} recipients={}", env.id, to, *id, failed.size());
  }
  for (auto i : failed) states[i].status = RecipientStatus::bounced;
}

Result<std::string> QueueManager::inject(const std::string& recipient, const std::string& body) {
  QueueEnvelope e;
  e.id = make_queue_id();
  e.arrival = now_seconds();
  e.client_ip = "127.0.0.1";
  e.helo = settings_.hostname;
  e.sender = "";  // RFC 3464 / RFC 5321 §4.5.5: notifications use the null sender
  e.recipients.push_back({recipient, resolve_mailbox_(recipient)});
  auto f = StagedFile::create(spool_.incoming_path(e.id), spool_.active_path(e.id));
  if (!f) return std::unexpected(f.error());
  f->write(serialize_envelope(e));
  f->write(body);
  if (auto c = f->commit(); !c) return std::unexpected(c.error());
  enqueue(e.id);
  return e.id;
}

void QueueManager::process_spooled(const std::string& id) {
  auto release = [&] {
    std::lock_guard lock(mu_);
    busy_.erase(id);
  };
  auto entry = spool_.read(id);
  if (!entry) {
    // A vanished file was deleted (by `tern queue delete`); anything else is
    // logged and left in place for a person to look at.
    if (errno != ENOENT) spdlog::error("queue_id={} event=queue_read_failed error=\"{}\"", id, entry.error().detail);
    release();
    return;
  }
  auto now = now_seconds();
  RemoteRequest req;
  for (std::size_t i = 0; i < entry->recipients.size(); ++i) {
    auto& st = entry->recipients[i];
    const auto& rcpt = entry->envelope.recipients[i];
    if (st.status == RecipientStatus::delivered || st.status == RecipientStatus::bounced ||
        st.status == RecipientStatus::failed)
      continue;
    if (st.status == RecipientStatus::deferred && st.next_attempt > now) continue;
    if (rcpt.mailbox.empty()) {
      req.recipients.push_back(i);
      continue;
    }
    // Several recipients may end in one mailbox (aliases): one copy is enough.
    bool duplicate = false;
    for (std::size_t j = 0; j < i; ++j)
      if (entry->envelope.recipients[j].mailbox == rcpt.mailbox &&
          entry->recipients[j].status == RecipientStatus::delivered)
        duplicate = true;
    ++st.attempts;
    auto r = duplicate ? Result<void>{} : local_.deliver(*entry, rcpt.mailbox);
    if (r) {
      st.status = RecipientStatus::delivered;
      st.last_error.clear();
      spdlog::info("queue_id={} event=delivered to=<{}> mailbox={} attempts={}{}", id, rcpt.address, rcpt.mailbox,
                   st.attempts, duplicate ? " duplicate=yes" : "");
    } else {
      RemoteOutcome o{i, RemoteOutcome::Kind::temporary, "4.3.0", r.error().detail, ""};
      apply_outcome(entry->envelope, o, st, now);
    }
    if (auto rec = spool_.record(id, i, st); !rec)
      spdlog::error("queue_id={} event=status_write_failed error=\"{}\"", id, rec.error().detail);
  }
  if (req.recipients.empty()) {
    finish_spooled(id, {});
    release();
    return;
  }
  auto data = read_whole(spool_.active_path(id));
  if (!data) {
    spdlog::error("queue_id={} event=queue_read_failed error=\"{}\"", id, data.error().detail);
    release();
    return;
  }
  for (auto i : req.recipients) {
    ++entry->recipients[i].attempts;
    (void)spool_.record(id, i, entry->recipients[i]);  // the attempt counts even if we crash now
  }
  req.envelope = entry->envelope;
  req.payload = *data;
  req.message_offset = entry->message_offset;
  RemoteDone ctx;
  ctx.spooled_id = id;
  send_remote(std::move(req), std::move(ctx));  // id stays busy until the answer
}

void QueueManager::finish_spooled(const std::string& id, const std::vector<RemoteOutcome>& outcomes) {
  auto entry = spool_.read(id);
  if (!entry) return;  // deleted meanwhile
  auto now = now_seconds();
  for (const auto& o : outcomes) {
    if (o.index >= entry->recipients.size()) continue;
    // `tern queue bounce` may have given up on it during the attempt: only a
    // delivery overrides that.
    auto current = entry->recipients[o.index].status;
    if ((current == RecipientStatus::failed || current == RecipientStatus::bounced) &&
        o.kind != RemoteOutcome::Kind::delivered)
      continue;
    apply_outcome(entry->envelope, o, entry->recipients[o.index], now);
    (void)spool_.record(id, o.index, entry->recipients[o.index]);
  }
  bool any_failed = std::any_of(entry->recipients.begin(), entry->recipients.end(),
                                [](const auto& s) { return s.status == RecipientStatus::failed; });
  if (any_failed) {
    std::string message;
    if (auto data = read_whole(spool_.active_path(id)); data)
      message = std::string_view(**data).substr(std::min(entry->message_offset, (*data)->size()));
    auto before = entry->recipients;
    bounce_failed(entry->envelope, message, entry->recipients);
    for (std::size_t i = 0; i < before.size(); ++i)
      if (before[i].status != entry->recipients[i].status) (void)spool_.record(id, i, entry->recipients[i]);
  }
  if (entry->done()) {
    if (auto r = spool_.remove(id); !r)
      spdlog::error("queue_id={} event=remove_failed error=\"{}\"", id, r.error().detail);
    std::lock_guard lock(mu_);
    ++completed_;
    return;
  }
  std::int64_t due = 0;
  for (const auto& st : entry->recipients)
    if (st.status == RecipientStatus::deferred || st.status == RecipientStatus::pending)
      due = due == 0 ? std::max(st.next_attempt, now) : std::min(due, std::max(st.next_attempt, now));
  if (due) {
    std::lock_guard lock(mu_);
    deferred_.emplace(due, id);
  }
}

}  // namespace tern
