#include "services/spool.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include "base/queue_id.hpp"
#include "services/durable_file.hpp"

namespace tern {
namespace {

constexpr std::string_view magic = "tern-queue 1";

// Envelope values are single tokens on a line; anything that could break the
// line structure is replaced (they come from validated SMTP input anyway).
std::string clean(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c == '\r' || c == '\n' || c == '\0' || c == '\t') c = '?';
  return out;
}

std::string read_file(const std::filesystem::path& p, std::size_t max, bool& ok) {
  ok = false;
  UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return {};
  std::string out;
  char buf[16384];
  while (out.size() < max) {
    ssize_t n = ::read(fd.get(), buf, std::min(sizeof buf, max - out.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ok = true;
  return out;
}

template <typename T>
bool to_number(std::string_view s, T& out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && end == s.data() + s.size();
}

}  // namespace

std::string_view to_string(RecipientStatus s) {
  switch (s) {
    case RecipientStatus::pending: return "pending";
    case RecipientStatus::delivered: return "delivered";
    case RecipientStatus::deferred: return "deferred";
    case RecipientStatus::failed: return "failed";
    case RecipientStatus::bounced: return "bounced";
  }
  return "pending";
}

bool QueueEntry::done() const {
  return std::all_of(recipients.begin(), recipients.end(), [](const RecipientState& r) {
    return r.status == RecipientStatus::delivered || r.status == RecipientStatus::bounced;
  });
}

std::string serialize_envelope(const QueueEnvelope& e) {
  std::string out = fmt::format("{}\nid {}\narrival {}\nclient {}\nhelo {}\nsender {}\nflags{}{}{}\n", magic, e.id,
                                e.arrival, clean(e.client_ip), clean(e.helo), clean(e.sender),
                                e.smtputf8 ? " smtputf8" : "", e.body_8bit ? " 8bitmime" : "", e.junk ? " junk" : "");
  for (const auto& r : e.recipients) out += fmt::format("rcpt {}\t{}\n", clean(r.address), clean(r.mailbox));
  out += "\n";
  return out;
}

Result<QueueEnvelope> parse_envelope(std::string_view text) {
  auto bad = [](std::string what) {
    return std::unexpected(Error::permanent_failure("corrupt queue file", std::move(what)));
  };
  QueueEnvelope e;
  bool first = true;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (first) {
      if (line != magic) return bad("missing queue file header");
      first = false;
      continue;
    }
    auto sp = line.find(' ');
    std::string_view key = line.substr(0, sp);
    std::string_view value = sp == std::string_view::npos ? std::string_view{} : line.substr(sp + 1);
    if (key == "id") e.id = value;
    else if (key == "arrival") { if (!to_number(value, e.arrival)) return bad("bad arrival"); }
    else if (key == "client") e.client_ip = value;
    else if (key == "helo") e.helo = value;
    else if (key == "sender") e.sender = value;
    else if (key == "flags") {
      e.smtputf8 = value.find("smtputf8") != std::string_view::npos;
      e.body_8bit = value.find("8bitmime") != std::string_view::npos;
      e.junk = value.find("junk") != std::string_view::npos;
    } else if (key == "rcpt") {
      auto tab = value.find('\t');
      if (tab == std::string_view::npos) return bad("bad rcpt line");
      e.recipients.push_back({std::string(value.substr(0, tab)), std::string(value.substr(tab + 1))});
    } else {
      return bad(fmt::format("unknown envelope key {}", key));
    }
  }
  if (first || !is_valid_queue_id(e.id) || e.recipients.empty()) return bad("incomplete envelope");
  return e;
}

Spool::Spool(std::filesystem::path queue_dir) : dir_(std::move(queue_dir)) {}

Result<void> Spool::prepare() const {
  for (const char* sub : {"incoming", "active", "status"})
    if (auto r = make_private_dirs(dir_ / sub); !r) return r;
  return {};
}

std::filesystem::path Spool::incoming_path(const std::string& id) const { return dir_ / "incoming" / id; }
std::filesystem::path Spool::active_path(const std::string& id) const { return dir_ / "active" / id; }
std::filesystem::path Spool::status_path(const std::string& id) const { return dir_ / "status" / id; }

std::vector<std::string> Spool::list() const {
  std::vector<std::string> ids;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_ / "active", ec)) {
    std::string name = entry.path().filename().string();
    if (is_valid_queue_id(name)) ids.push_back(std::move(name));
  }
  std::sort(ids.begin(), ids.end());  // ids sort by arrival time
  return ids;
}

Result<QueueEntry> Spool::read(const std::string& id) const {
  if (!is_valid_queue_id(id))
    return std::unexpected(Error::permanent_failure("no such message", "invalid queue id " + id));
  bool ok = false;
  // The envelope is small; read a generous prefix and find the blank line.
  std::string head = read_file(active_path(id), 1 << 20, ok);
  if (!ok) return std::unexpected(Error::from_errno("open " + active_path(id).string(), errno));
  auto end = head.find("\n\n");
  if (end == std::string::npos)
    return std::unexpected(Error::permanent_failure("corrupt queue file", "no end of envelope in " + id));
  auto env = parse_envelope(std::string_view(head).substr(0, end + 1));
  if (!env) return std::unexpected(env.error());
  QueueEntry q;
  q.envelope = std::move(*env);
  q.message_offset = end + 2;
  std::error_code ec;
  auto size = std::filesystem::file_size(active_path(id), ec);
  q.message_size = ec ? 0 : size - q.message_offset;
  q.recipients.resize(q.envelope.recipients.size());

  // Status log lines: "<index> <status> <attempts> <next_attempt> <error...>"
  std::string log = read_file(status_path(id), 1 << 20, ok);
  std::string_view rest = log;
  while (!rest.empty()) {
    auto nl = rest.find('\n');
    if (nl == std::string_view::npos) break;  // a torn last line is ignored
    std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl + 1);
    std::size_t fields[4];
    std::size_t pos = 0;
    bool good = true;
    for (auto& f : fields) {
      f = line.find(' ', pos);
      if (f == std::string_view::npos) { good = false; break; }
      pos = f + 1;
    }
    if (!good) continue;
    std::size_t index = 0;
    RecipientState st;
    std::string_view status = line.substr(fields[0] + 1, fields[1] - fields[0] - 1);
    if (!to_number(line.substr(0, fields[0]), index) || index >= q.recipients.size()) continue;
    if (!to_number(line.substr(fields[1] + 1, fields[2] - fields[1] - 1), st.attempts)) continue;
    if (!to_number(line.substr(fields[2] + 1, fields[3] - fields[2] - 1), st.next_attempt)) continue;
    if (status == "pending") st.status = RecipientStatus::pending;
    else if (status == "delivered") st.status = RecipientStatus::delivered;
    else if (status == "deferred") st.status = RecipientStatus::deferred;
    else if (status == "failed") st.status = RecipientStatus::failed;
    else if (status == "bounced") st.status = RecipientStatus::bounced;
    else continue;
    st.last_error = std::string(line.substr(fields[3] + 1));
    q.recipients[index] = std::move(st);
  }
  return q;
}

Result<void> Spool::record(const std::string& id, std::size_t i, const RecipientState& s) const {
  UniqueFd fd(::open(status_path(id).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!fd) return std::unexpected(Error::from_errno("open " + status_path(id).string(), errno));
  std::string line = fmt::format("{} {} {} {} {}\n", i, to_string(s.status), s.attempts, s.next_attempt,
                                 clean(s.last_error));
  return write_all(fd.get(), line, "append " + status_path(id).string());
}

Result<void> Spool::remove(const std::string& id) const {
  if (::unlink(active_path(id).c_str()) != 0 && errno != ENOENT)
    return std::unexpected(Error::from_errno("unlink " + active_path(id).string(), errno));
  ::unlink(status_path(id).c_str());
  return {};
}

std::size_t Spool::clean_incoming() const {
  std::size_t n = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_ / "incoming", ec)) {
    std::filesystem::remove(entry.path(), ec);
    ++n;
  }
  return n;
}

}  // namespace tern
