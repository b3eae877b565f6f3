// A tiny scripted DNS server on 127.0.0.1 (UDP) for resolver tests: each
// question gets the reply a handler chooses (records, an rcode, or silence).
// Loopback only; nothing here ever talks to the system resolver.
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "services/dns/dns_records.hpp"

namespace tern::dns::testing {

struct ScriptedReply {
  int rcode = 0;
  bool drop = false;  // never answer
  struct Rr {
    std::uint16_t type;
    std::vector<std::uint8_t> rdata;
    std::uint32_t ttl = 300;
  };
  std::vector<Rr> answers;  // all owned by the question name
};

class ScriptedDnsServer {
 public:
  using Handler = std::function<ScriptedReply(const std::string& qname, std::uint16_t qtype)>;

  explicit ScriptedDnsServer(Handler handler) : handler_(std::move(handler)) {
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("bind");
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~ScriptedDnsServer() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  int queries() const { return queries_.load(); }

 private:
  void serve() {
    std::vector<std::uint8_t> buf(4096);
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      sockaddr_in from{};
      socklen_t flen = sizeof from;
      auto n = recvfrom(fd_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &flen);
      if (n < 12) continue;
      ++queries_;
      Bytes query(buf.data(), static_cast<std::size_t>(n));
      std::size_t pos = 12;
      auto qname = read_packet_name(query, pos);
      if (!qname || pos + 4 > query.size()) continue;
      std::uint16_t qtype = static_cast<std::uint16_t>(query[pos] << 8 | query[pos + 1]);
      std::size_t question_end = pos + 4;
      ScriptedReply reply = handler_(*qname, qtype);
      if (reply.drop) continue;
      std::vector<std::uint8_t> out(query.begin(), query.begin() + static_cast<std::ptrdiff_t>(question_end));
      out[2] = 0x81;                                                    // QR, RD
      out[3] = static_cast<std::uint8_t>(0x80 | (reply.rcode & 0x0F));  // RA, rcode
      out[4] = 0, out[5] = 1;                                           // one question
      out[6] = 0, out[7] = static_cast<std::uint8_t>(reply.answers.size());
      out[8] = out[9] = out[10] = out[11] = 0;  // no authority, no additional (no OPT)
      for (const auto& rr : reply.answers) {
        std::uint8_t head[] = {0xC0,
                               12,  // the owner: a pointer to the question name
                               static_cast<std::uint8_t>(rr.type >> 8),
                               static_cast<std::uint8_t>(rr.type),
                               0,
                               1,
                               static_cast<std::uint8_t>(rr.ttl >> 24),
                               static_cast<std::uint8_t>(rr.ttl >> 16),
                               static_cast<std::uint8_t>(rr.ttl >> 8),
                               static_cast<std::uint8_t>(rr.ttl),
                               static_cast<std::uint8_t>(rr.rdata.size() >> 8),
                               static_cast<std::uint8_t>(rr.rdata.size())};
        out.insert(out.end(), std::begin(head), std::end(head));
        out.insert(out.end(), rr.rdata.begin(), rr.rdata.end());
      }
      sendto(fd_, out.data(), out.size(), 0, reinterpret_cast<sockaddr*>(&from), flen);
    }
  }

  Handler handler_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> queries_{0};
  std::thread thread_;
};

}  // namespace tern::dns::testing
