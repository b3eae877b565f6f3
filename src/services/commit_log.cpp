#include "services/commit_log.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/crc32.hpp"

namespace tern {
namespace {

// Record framing: "TR1 <length> <crc32 hex>\n" then the payload.
constexpr std::string_view record_magic = "TR1 ";
constexpr auto max_segment_age = std::chrono::seconds(30);

std::filesystem::path segment_path(const std::filesystem::path& dir, std::uint64_t n) {
  return dir / fmt::format("{:012}.log", n);
}

bool parse_segment_number(const std::filesystem::path& p, std::uint64_t& n) {
  auto name = p.filename().string();
  if (name.size() != 16 || !name.ends_with(".log")) return false;
  auto [end, ec] = std::from_chars(name.data(), name.data() + 12, n);
  return ec == std::errc{} && end == name.data() + 12;
}

}  // namespace

CommitLog::CommitLog(std::filesystem::path dir, std::uint64_t segment_bytes)
    : dir_(std::move(dir)), segment_bytes_(segment_bytes) {}

CommitLog::~CommitLog() { stop(); }

std::string CommitLog::frame(std::string_view payload) {
  std::string out = fmt::format("{}{} {:08x}\n", record_magic, payload.size(), crc32(payload));
  out.append(payload);
  return out;
}

std::vector<std::filesystem::path> CommitLog::old_segments() const {
  std::vector<std::pair<std::uint64_t, std::filesystem::path>> found;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir_, ec)) {
    std::uint64_t n = 0;
    if (parse_segment_number(e.path(), n) && n < first_segment_) found.emplace_back(n, e.path());
  }
  std::sort(found.begin(), found.end());
  std::vector<std::filesystem::path> out;
  for (auto& [n, p] : found) out.push_back(p);
  return out;
}

Result<std::size_t> CommitLog::read_segment(const std::filesystem::path& segment,
                                            const std::function<void(std::string_view)>& fn) {
  UniqueFd fd(::open(segment.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::unexpected(Error::from_errno("open " + segment.string(), errno));
  std::string data;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::unexpected(Error::from_errno("read " + segment.string(), errno));
    if (n == 0) break;
    data.append(buf, static_cast<std::size_t>(n));
  }
  std::size_t pos = 0, count = 0;
  std::string_view all = data;
  while (pos < all.size()) {
    auto nl = all.find('\n', pos);
    if (nl == std::string_view::npos || all.substr(pos, record_magic.size()) != record_magic) break;
    std::string_view header = all.substr(pos + record_magic.size(), nl - pos - record_magic.size());
    auto sp = header.find(' ');
    std::uint64_t len = 0;
    std::uint32_t crc = 0;
    if (sp == std::string_view::npos) break;
    auto r1 = std::from_chars(header.data(), header.data() + sp, len);
    auto r2 = std::from_chars(header.data() + sp + 1, header.data() + header.size(), crc, 16);
    if (r1.ec != std::errc{} || r2.ec != std::errc{}) break;
    if (nl + 1 + len > all.size()) break;  // torn tail
    std::string_view payload = all.substr(nl + 1, len);
    if (crc32(payload) != crc) break;
    fn(payload);
    ++count;
    pos = nl + 1 + len;
  }
  return count;
}

Result<void> CommitLog::open() {
  if (auto r = make_private_dirs(dir_); !r) return r;
  std::uint64_t max = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir_, ec)) {
    std::uint64_t n = 0;
    if (parse_segment_number(e.path(), n)) max = std::max(max, n);
  }
  segment_ = max;  // start_segment() moves to max + 1
  if (auto r = start_segment(); !r) return r;
  first_segment_ = segment_;
  thread_ = std::thread([this] { committer(); });
  return {};
}

Result<void> CommitLog::start_segment() {
  std::uint64_t next = segment_ + 1;
  auto path = segment_path(dir_, next);
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600));
  if (!fd) return std::unexpected(Error::from_errno("create " + path.string(), errno));
  if (auto r = fsync_directory(dir_); !r) return r;
  std::uint64_t previous = segment_;
  fd_ = std::move(fd);
  written_ = 0;
  segment_started_ = std::chrono::steady_clock::now();
  std::lock_guard lock(mu_);
  segment_ = next;
  live_[next];  // present while current
  if (previous && live_.contains(previous)) retire_if_unused(previous);
  return {};
}

void CommitLog::append(Payload payload, Done done) {
  {
    std::lock_guard lock(mu_);
    pending_.push_back(Pending{std::move(payload), std::move(done)});
  }
  cv_.notify_one();
}

void CommitLog::release(std::uint64_t segment) {
  std::lock_guard lock(mu_);
  auto it = live_.find(segment);
  if (it == live_.end() || it->second == 0) return;
  --it->second;
  retire_if_unused(segment);
}

void CommitLog::retire_if_unused(std::uint64_t segment) {
  auto it = live_.find(segment);
  if (it == live_.end() || it->second != 0 || segment == segment_) return;
  live_.erase(it);
  ::unlink(segment_path(dir_, segment).c_str());
}

void CommitLog::committer() {
  std::deque<Pending> batch;
  std::string buffer;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_ || !pending_.empty(); });
      if (pending_.empty() && stopping_) {
        // A clean stop: if nothing in the current segment is still needed,
        // nothing must be replayed next time.
        if (live_[segment_] == 0) {
          fd_.reset();
          ::unlink(segment_path(dir_, segment_).c_str());
        }
        return;
      }
      batch.swap(pending_);
    }
    if (batch.empty()) {
      // Idle: rotate an old, written segment so released records are not
      // replayed after a crash long after they were delivered.
      if (written_ > 0 && std::chrono::steady_clock::now() - segment_started_ > max_segment_age) {
        if (auto s = start_segment(); !s) spdlog::error("event=commit_log_rotate_failed error=\"{}\"", s.error().detail);
      }
      continue;
    }
    buffer.clear();
    for (auto& p : batch) buffer += frame(*p.payload);
    Result<void> r = write_all(fd_.get(), buffer, "append to commit log");
    if (r && ::fdatasync(fd_.get()) != 0) r = std::unexpected(Error::from_errno("fdatasync commit log", errno));
    std::uint64_t seg = segment_;
    if (r) {
      std::lock_guard lock(mu_);
      live_[seg] += batch.size();
    } else {
      spdlog::error("event=commit_log_failed error=\"{}\"", r.error().detail);
      // A failed write may have left a partial record: continue in a fresh
      // segment so later records are not behind garbage.
      if (auto s = start_segment(); !s) spdlog::error("event=commit_log_failed error=\"{}\"", s.error().detail);
    }
    for (auto& p : batch) {
      if (r) p.done(seg);
      else p.done(std::unexpected(r.error()));
    }
    batch.clear();
    written_ += buffer.size();
    if (r && (written_ >= segment_bytes_ || std::chrono::steady_clock::now() - segment_started_ > max_segment_age)) {
      if (auto s = start_segment(); !s) spdlog::error("event=commit_log_rotate_failed error=\"{}\"", s.error().detail);
    }
  }
}

void CommitLog::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace tern
