// dns_probe: a test driver for the DNS layer. Asks a given DNS server (never
// the system resolver unless no --server is given) through UnboundResolver
// and MxRouter, and prints one JSON object per line, for
// tests/integration/test_dns_resolver.py.
//
//   dns_probe --server 127.0.0.1:5353 [--timeout-ms N] [--mode thread|fd]
//             [--local-name NAME]... [--local-address IP]...
//             [--order ipv4_first|ipv6_first|ipv4_only|ipv6_only]
//             route DOMAIN...          the route for each domain
//   dns_probe --server ... lookup NAME TYPE    one lookup (TYPE: A, AAAA, MX, TXT, ...)
//
// Exit status: 0 when every question got an answer (errors included), 1 when
// the resolver could not be set up, 2 for bad usage.
#include <fmt/format.h>
#include <poll.h>

#include <atomic>
#include <charconv>
#include <cstdio>
#include <future>
#include <string>
#include <vector>

#include "services/dns/mx_router.hpp"
#include "services/dns/unbound_resolver.hpp"

using namespace tern;
using namespace tern::dns;

namespace {

std::string json(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      out += fmt::format("\\u{:04x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string json_list(const std::vector<std::string>& items, bool quote = true) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? "," : "") + (quote ? json(items[i]) : items[i]);
  return out + "]";
}

std::string record_json(const RecordData& r) {
  struct {
    std::string operator()(const IpAddress& a) const { return json(a.to_string()); }
    std::string operator()(const MxRecord& m) const {
      return fmt::format("{{\"preference\":{},\"exchange\":{}}}", m.preference, json(m.exchange));
    }
    std::string operator()(const CnameRecord& c) const { return json(c.target); }
    std::string operator()(const PtrRecord& p) const { return json(p.target); }
    std::string operator()(const TxtRecord& t) const { return json_list(t.strings); }
    std::string operator()(const TlsaRecord& t) const {
      std::string hex;
      for (auto b : t.data) hex += fmt::format("{:02x}", b);
      return fmt::format("{{\"usage\":{},\"selector\":{},\"matching_type\":{},\"data\":{}}}", t.usage, t.selector,
                         t.matching_type, json(hex));
    }
  } visit;
  return std::visit(visit, r);
}

std::string route_json(const std::string& domain, const Result<Route>& r) {
  if (!r) {
    auto [status, text] = split_status(r.error().client_text);
    return fmt::format(
        "{{\"domain\":{},\"result\":\"error\",\"permanent\":{},\"status\":{},\"text\":{},\"detail\":{}}}", json(domain),
        r.error().permanent(), json(status), json(text), json(r.error().detail));
  }
  std::vector<std::string> hosts;
  for (const auto& h : r->hosts) {
    std::vector<std::string> addrs;
    for (const auto& a : h.addresses) addrs.push_back(a.to_string());
    hosts.push_back(fmt::format("{{\"host\":{},\"preference\":{},\"addresses\":{},\"secure\":{}}}", json(h.host),
                                h.preference, json_list(addrs), h.secure));
  }
  return fmt::format(
      "{{\"domain\":{},\"result\":\"ok\",\"implicit_mx\":{},\"mx_secure\":{},\"cname_chain\":{},\"hosts\":{}}}",
      json(domain), r->implicit_mx, r->mx_secure, json_list(r->cname_chain), json_list(hosts, false));
}

std::string answer_json(const std::string& name, RrType type, const DnsAnswer& a) {
  std::vector<std::string> records;
  for (const auto& r : a.records) records.push_back(record_json(r));
  return fmt::format(
      "{{\"name\":{},\"type\":{},\"status\":{},\"ttl\":{},\"secure\":{},\"cname_chain\":{},\"records\":{},"
      "\"detail\":{}}}",
      json(name), json(to_string(type)), json(to_string(a.status)), a.ttl, a.secure, json_list(a.cname_chain),
      json_list(records, false), json(a.detail));
}

int usage(const char* why) {
  std::fprintf(stderr,
               "dns_probe: %s\nusage: dns_probe --server IP:PORT [options] route DOMAIN... | lookup NAME TYPE\n", why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  UnboundSettings us;
  us.timeout = std::chrono::milliseconds(5000);
  MxRouterSettings rs;
  bool fd_mode = false;
  std::vector<std::string> rest;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (arg == "--server") {
      auto v = value();
      if (!v) return usage("--server needs IP:PORT");
      us.servers.push_back(v);
    } else if (arg == "--timeout-ms") {
      auto v = value();
      long ms = 0;
      if (!v || std::from_chars(v, v + std::string_view(v).size(), ms).ec != std::errc{} || ms <= 0)
        return usage("--timeout-ms needs a positive number");
      us.timeout = std::chrono::milliseconds(ms);
    } else if (arg == "--mode") {
      auto v = value();
      if (!v || (std::string_view(v) != "thread" && std::string_view(v) != "fd")) return usage("--mode thread|fd");
      fd_mode = std::string_view(v) == "fd";
    } else if (arg == "--local-name") {
      auto v = value();
      if (!v) return usage("--local-name needs a name");
      rs.local_names.push_back(v);
    } else if (arg == "--local-address") {
      auto v = value();
      auto ip = v ? IpAddress::parse(v) : std::nullopt;
      if (!ip) return usage("--local-address needs an IP address");
      rs.local_addresses.push_back(*ip);
    } else if (arg == "--order") {
      auto v = value();
      std::string_view o = v ? v : "";
      if (o == "ipv4_first")
        rs.address_order = AddressOrder::ipv4_first;
      else if (o == "ipv6_first")
        rs.address_order = AddressOrder::ipv6_first;
      else if (o == "ipv4_only")
        rs.address_order = AddressOrder::ipv4_only;
      else if (o == "ipv6_only")
        rs.address_order = AddressOrder::ipv6_only;
      else
        return usage("--order ipv4_first|ipv6_first|ipv4_only|ipv6_only");
    } else if (arg.starts_with("--")) {
      return usage("unknown option");
    } else {
      rest.push_back(arg);
    }
  }
  if (rest.empty()) return usage("no command");

  auto created = UnboundResolver::create(us);
  if (!created) {
    std::fprintf(stderr, "dns_probe: %s\n", created.error().detail.c_str());
    return 1;
  }
  UnboundResolver& resolver = **created;
  if (!fd_mode) resolver.start_thread();

  // Runs one asynchronous question to its end: the resolver's thread answers,
  // or (fd mode) this thread watches fd() and calls process().
  auto wait = [&](std::atomic<bool>& done) {
    while (!done.load()) {
      if (fd_mode) {
        pollfd p{resolver.fd(), POLLIN, 0};
        if (poll(&p, 1, 100) > 0) resolver.process();
      } else {
        done.wait(false);
      }
    }
  };

  if (rest[0] == "route") {
    if (rest.size() < 2) return usage("route needs a domain");
    MxRouter router(resolver, rs);
    for (std::size_t i = 1; i < rest.size(); ++i) {
      std::atomic<bool> done{false};
      std::string line;
      router.route(rest[i], [&](Result<Route> r) {
        line = route_json(rest[i], r);
        done.store(true);
        done.notify_all();
      });
      wait(done);
      std::printf("%s\n", line.c_str());
    }
  } else if (rest[0] == "lookup") {
    if (rest.size() != 3) return usage("lookup needs NAME TYPE");
    auto type = parse_rr_type(rest[2]);
    if (!type) return usage("unknown record type");
    std::atomic<bool> done{false};
    std::string line;
    resolver.lookup(rest[1], *type, [&](DnsAnswer a) {
      line = answer_json(rest[1], *type, a);
      done.store(true);
      done.notify_all();
    });
    wait(done);
    std::printf("%s\n", line.c_str());
  } else {
    return usage("unknown command");
  }
  std::fflush(stdout);
  return 0;
}
