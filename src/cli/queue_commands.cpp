#include "cli/queue_commands.hpp"

#include <cstdio>
#include <ctime>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

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
}

}  // namespace tern::cli
