// dkim_probe: the DKIM code on the command line, for
// tests/integration/test_dkim_sign.py, which checks what it makes with
// verifiers nobody here wrote (dkimpy, OpenDKIM).
//
//   dkim_probe keygen DIR DOMAIN SELECTOR rsa|ed25519
//       writes DIR/dkim/DOMAIN/SELECTOR.{key,pub}; prints the TXT record
//       text on one line and the zone-file line on the next
//   dkim_probe show DIR DOMAIN SELECTOR
//       prints the same two lines again, from the stored key
//   dkim_probe sign KEYFILE DOMAIN SELECTOR [--time UNIX] [--canon H/B] < message
//       prints the message with its DKIM-Signature field in front; bare LFs
//       in the input become CRLF first (RFC 6376 §5.3), and the output is
//       exactly what was signed
//   dkim_probe canon header|body simple|relaxed < input
//       prints the canonical form: of every field of a header block, or of a body
//
// Exit status: 0 done, 1 failed (the reason on stderr), 2 bad usage.
#include <fmt/format.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <iterator>
#include <string>
#include <string_view>

#include "services/dkim/dkim_canon.hpp"
#include "services/dkim/dkim_keys.hpp"
#include "services/dkim/dkim_signer.hpp"

using namespace tern;
using namespace tern::dkim;

namespace {

int usage(std::string_view why) {
  fmt::print(stderr,
             "dkim_probe: {}\nusage: dkim_probe keygen DIR DOMAIN SELECTOR rsa|ed25519\n"
             "       dkim_probe show DIR DOMAIN SELECTOR\n"
             "       dkim_probe sign KEYFILE DOMAIN SELECTOR [--time UNIX] [--canon H/B] < message\n"
             "       dkim_probe canon header|body simple|relaxed < input\n",
             why);
  return 2;
}

int fail(const Error& e) {
  fmt::print(stderr, "dkim_probe: {} ({})\n", e.client_text, e.detail);
  return 1;
}

std::string read_stdin() {
  std::string in;
  char buf[65536];
  while (true) {
    ssize_t n = ::read(0, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (n == 0) break;
    in.append(buf, static_cast<std::size_t>(n));
  }
  return in;
}

void write_stdout(std::string_view s) { std::fwrite(s.data(), 1, s.size(), stdout); }

std::optional<Canon> parse_canon(std::string_view s) {
  if (s == "simple") return Canon::simple;
  if (s == "relaxed") return Canon::relaxed;
  return std::nullopt;
}

void print_record(const PrivateKey& key, std::string_view domain, std::string_view selector) {
  std::string record = txt_record(key);
  fmt::print("{}\n{}\n", record, zone_line(domain, selector, record));
}

int keygen(std::string_view dir, std::string_view domain, std::string_view selector, std::string_view type_text) {
  auto type = parse_key_type(type_text);
  if (!type) return usage("key type must be rsa or ed25519");
  auto key = generate_key_files(std::string(dir), domain, selector, *type);
  if (!key) return fail(key.error());
  print_record(*key, domain, selector);
  return 0;
}

int show(std::string_view dir, std::string_view domain, std::string_view selector) {
  if (auto r = check_names(domain, selector); !r) return fail(r.error());
  auto key = load_private_key(key_files(std::string(dir), domain, selector).private_key);
  if (!key) return fail(key.error());
  print_record(*key, domain, selector);
  return 0;
}

int sign(int argc, char** argv) {
  std::string_view keyfile = argv[2], domain = argv[3], selector = argv[4];
  std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  SignerOptions options;
  for (int i = 5; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--time" && i + 1 < argc) {
      std::string_view v = argv[++i];
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), now);
      if (ec != std::errc() || p != v.data() + v.size()) return usage("--time needs a number");
    } else if (a == "--canon" && i + 1 < argc) {
      std::string_view v = argv[++i];
      auto slash = v.find('/');
      auto h = parse_canon(v.substr(0, slash));
      auto b = slash == std::string_view::npos ? std::optional<Canon>(Canon::simple) : parse_canon(v.substr(slash + 1));
      if (!h || !b) return usage("--canon needs simple|relaxed[/simple|relaxed]");
      options.header_canon = *h;
      options.body_canon = *b;
    } else {
      return usage(fmt::format("unknown option {}", a));
    }
  }
  auto key = load_private_key(std::string(keyfile));
  if (!key) return fail(key.error());
  auto signer = Signer::create(domain, selector, *key, options);
  if (!signer) return fail(signer.error());
  std::string message = to_crlf(read_stdin());
  auto field = signer->sign(message, now);
  if (!field) return fail(field.error());
  write_stdout(*field);
  write_stdout(message);
  return 0;
}

int canon(std::string_view what, std::string_view algorithm) {
  auto c = parse_canon(algorithm);
  if (!c || (what != "header" && what != "body")) return usage("canon header|body simple|relaxed");
  std::string in = read_stdin();
  if (what == "body") {
    write_stdout(canonicalize_body(*c, in));
  } else {
    for (const auto& f : parse_message(in).fields) write_stdout(canonicalize_header(*c, f.text));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage("no command");
  std::string_view cmd = argv[1];
  if (cmd == "keygen" && argc == 6) return keygen(argv[2], argv[3], argv[4], argv[5]);
  if (cmd == "show" && argc == 5) return show(argv[2], argv[3], argv[4]);
  if (cmd == "sign" && argc >= 5) return sign(argc, argv);
  if (cmd == "canon" && argc == 4) return canon(argv[2], argv[3]);
  return usage("bad command or arguments");
}
