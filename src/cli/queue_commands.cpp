#include "cli/queue_commands.hpp"

#include <cstdio>
#include <csignal>
#include <ctime>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/daemon_signal.hpp"
#include "services/spool.hpp"

namespace tern::cli {
namespace {

int g_exit = 0;

std::string iso_time(std::int64_t t) {
  if (t == 0) return "-";
  std::time_t tt = t;
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

nlohmann::json to_json(const QueueEntry& q) {
  nlohmann::json rcpts = nlohmann::json::array();
  for (std::size_t i = 0; i < q.recipients.size(); ++i) {
    const auto& st = q.recipients[i];
    rcpts.push_back({{"address", q.envelope.recipients[i].address},
                     {"local_mailbox", q.envelope.recipients[i].mailbox},
                     {"status", std::string(to_string(st.status))},
                     {"attempts", st.attempts},
                     {"next_attempt", st.next_attempt ? nlohmann::json(iso_time(st.next_attempt)) : nlohmann::json()},
                     {"last_error", st.last_error}});
  }
  return {{"id", q.envelope.id},
          {"arrival", iso_time(q.envelope.arrival)},
          {"sender", q.envelope.sender},
          {"client", q.envelope.client_ip},
          {"helo", q.envelope.helo},
          {"size", q.message_size},
          {"recipients", rcpts}};
}

void list(const Config& cfg, bool json) {
  Spool spool(cfg.queue_dir());
  nlohmann::json all = nlohmann::json::array();
  std::size_t count = 0;
  for (const auto& id : spool.list()) {
    auto q = spool.read(id);
    if (!q) continue;  // delivered and removed while we looked
    ++count;
    if (json) {
      all.push_back(to_json(*q));
      continue;
    }
    std::printf("%-16s %8llu %s  <%s>\n", id.c_str(), static_cast<unsigned long long>(q->message_size),
                iso_time(q->envelope.arrival).c_str(), q->envelope.sender.c_str());
    for (std::size_t i = 0; i < q->recipients.size(); ++i) {
      const auto& st = q->recipients[i];
      std::string line = fmt::format("    <{}> {} attempts={}", q->envelope.recipients[i].address,
                                     to_string(st.status), st.attempts);
      if (st.next_attempt) line += " next=" + iso_time(st.next_attempt);
      if (!st.last_error.empty()) line += " error=\"" + st.last_error + "\"";
      std::printf("%s\n", line.c_str());
    }
  }
  if (json) std::printf("%s\n", all.dump(2).c_str());
  else if (count == 0) std::printf("Mail queue is empty\n");
  else std::printf("-- %zu message%s in the queue\n", count, count == 1 ? "" : "s");
}

void show(const Config& cfg, const std::string& id, bool json) {
  Spool spool(cfg.queue_dir());
  auto q = spool.read(id);
  if (!q) {
    std::fprintf(stderr, "tern: %s: no such message in the queue\n", id.c_str());
    g_exit = 1;
    return;
  }
  if (json) {
    std::printf("%s\n", to_json(*q).dump(2).c_str());
    return;
  }
  auto j = to_json(*q);
  std::printf("id:       %s\narrival:  %s\nsender:   <%s>\nclient:   %s (helo %s)\nsize:     %llu\n",
              id.c_str(), iso_time(q->envelope.arrival).c_str(), q->envelope.sender.c_str(),
              q->envelope.client_ip.c_str(), q->envelope.helo.c_str(),
              static_cast<unsigned long long>(q->message_size));
  for (const auto& r : j["recipients"])
    std::printf("rcpt:     <%s> %s attempts=%d %s\n", r["address"].get<std::string>().c_str(),
                r["status"].get<std::string>().c_str(), r["attempts"].get<int>(),
                r["last_error"].get<std::string>().c_str());
}

void report_poke(const Config& cfg) {
  // SIGUSR1: re-read the spool.
  if (!signal_daemon(cfg, SIGUSR1)) std::printf("ternd is not running: the change takes effect when it starts\n");
}

// Marks recipients of one message; returns how many changed.
std::size_t mark(const Spool& spool, const std::string& id, RecipientStatus from, RecipientStatus to,
                 const std::string& error) {
  auto q = spool.read(id);
  if (!q) return 0;
  std::size_t n = 0;
  for (std::size_t i = 0; i < q->recipients.size(); ++i) {
    auto st = q->recipients[i];
    bool final = st.status == RecipientStatus::delivered || st.status == RecipientStatus::bounced ||
                 st.status == RecipientStatus::failed;
    if (final || (from != RecipientStatus::pending && st.status != from)) continue;
    st.status = to;
    st.next_attempt = 0;
    if (!error.empty()) st.last_error = error;
    if (spool.record(id, i, st)) ++n;
  }
  return n;
}

void flush(const Config& cfg, const std::string& only_id) {
  Spool spool(cfg.queue_dir());
  std::size_t messages = 0;
  for (const auto& id : spool.list()) {
    if (!only_id.empty() && id != only_id) continue;
    // Deferred (and pending) recipients become due now.
    if (mark(spool, id, RecipientStatus::pending, RecipientStatus::deferred, "") > 0) ++messages;
  }
  if (!only_id.empty() && messages == 0) {
    std::fprintf(stderr, "tern: %s: no such message, or nothing left to retry\n", only_id.c_str());
    g_exit = 1;
    return;
  }
  std::printf("%zu message%s scheduled for immediate delivery\n", messages, messages == 1 ? "" : "s");
  report_poke(cfg);
}

void remove_message(const Config& cfg, const std::string& id) {
  Spool spool(cfg.queue_dir());
  if (!spool.read(id)) {
    std::fprintf(stderr, "tern: %s: no such message in the queue\n", id.c_str());
    g_exit = 1;
    return;
  }
  if (auto r = spool.remove(id); !r) {
    std::fprintf(stderr, "tern: %s: %s\n", id.c_str(), r.error().detail.c_str());
    g_exit = 1;
    return;
  }
  std::printf("%s: deleted (no bounce sent)\n", id.c_str());
  report_poke(cfg);
}

void bounce_message(const Config& cfg, const std::string& id) {
  Spool spool(cfg.queue_dir());
  std::size_t n = mark(spool, id, RecipientStatus::pending, RecipientStatus::failed,
                       "5.0.0 returned to the sender by the administrator");
  if (n == 0) {
    std::fprintf(stderr, "tern: %s: no such message, or nothing left to bounce\n", id.c_str());
    g_exit = 1;
    return;
  }
  std::printf("%s: %zu recipient%s will be bounced to the sender\n", id.c_str(), n, n == 1 ? "" : "s");
  report_poke(cfg);
}

}  // namespace

int exit_code() { return g_exit; }

void add_queue_commands(CLI::App& app, std::function<Config()> load_config) {
  auto* queue = app.add_subcommand("queue", "inspect the mail queue");
  queue->require_subcommand(1);

  auto* list_cmd = queue->add_subcommand("list", "list queued messages and each recipient's state");
  auto list_json = std::make_shared<bool>(false);
  list_cmd->add_flag("--json", *list_json, "machine-readable output");
  list_cmd->callback([=] { list(load_config(), *list_json); });

  auto* show_cmd = queue->add_subcommand("show", "show one queued message's envelope and state");
  auto show_id = std::make_shared<std::string>();
  auto show_json = std::make_shared<bool>(false);
  show_cmd->add_option("id", *show_id, "queue id")->required();
  show_cmd->add_flag("--json", *show_json, "machine-readable output");
  show_cmd->callback([=] { show(load_config(), *show_id, *show_json); });

  queue->add_subcommand("flush", "retry every deferred message now")->callback([=] { flush(load_config(), ""); });

  auto retry_id = std::make_shared<std::string>();
  auto* retry_cmd = queue->add_subcommand("retry", "retry one message now");
  retry_cmd->add_option("id", *retry_id, "queue id")->required();
  retry_cmd->callback([=] { flush(load_config(), *retry_id); });

  auto delete_id = std::make_shared<std::string>();
  auto* delete_cmd = queue->add_subcommand("delete", "remove a message from the queue, without a bounce");
  delete_cmd->add_option("id", *delete_id, "queue id")->required();
  delete_cmd->callback([=] { remove_message(load_config(), *delete_id); });

  auto bounce_id = std::make_shared<std::string>();
  auto* bounce_cmd = queue->add_subcommand("bounce", "give up on a message now and bounce it to its sender");
  bounce_cmd->add_option("id", *bounce_id, "queue id")->required();
  bounce_cmd->callback([=] { bounce_message(load_config(), *bounce_id); });
}

}  // namespace tern::cli
