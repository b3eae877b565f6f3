#include "cli/send_command.hpp"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <sstream>

#include "cli/password_prompt.hpp"
#include "cli/smtp_submit.hpp"
#include "formats/address_list.hpp"
#include "formats/mime_builder.hpp"

namespace tern::cli {
namespace {

// sysexits.h: the codes sendmail-compatible scripts test for.
constexpr int ex_usage = 64;
constexpr int ex_dataerr = 65;
constexpr int ex_noinput = 66;
constexpr int ex_unavailable = 69;
constexpr int ex_tempfail = 75;

int g_exit = 0;

void fail(int code, const std::string& text) {
  std::fprintf(stderr, "tern send: %s\n", text.c_str());
  if (!g_exit) g_exit = code;
}

struct SendOptions {
  std::string from;
  std::vector<std::string> to, cc, bcc, reply_to, attach, headers;
  std::string subject, text, text_file, html_file;
  std::string server;
  bool starttls = false, implicit_tls = false, no_tls = false, insecure = false;
  std::string ca_file, user, password_file, helo;
  bool from_stdin = false;  // -t
  bool print_only = false;
};

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// "host:port", "[v6]:port", "host" (port from the TLS mode).
bool parse_server(const std::string& text, bool implicit_tls, std::string& host, std::string& port) {
  port = implicit_tls ? "465" : "587";
  if (text.starts_with('[')) {
    auto close = text.find(']');
    if (close == std::string::npos) return false;
    host = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') return false;
      port = text.substr(close + 2);
    }
  } else if (auto colon = text.rfind(':'); colon != std::string::npos && text.find(':') == colon) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  } else {
    host = text;
  }
  return !host.empty() && !port.empty();
}

std::optional<std::string> read_secret(const SendOptions& o) {
  if (!o.password_file.empty()) {
    auto text = read_file(o.password_file);
    if (!text) return std::nullopt;
    // The first line; a trailing newline is the editor's, not the password's.
    std::string pw = text->substr(0, text->find('\n'));
    if (!pw.empty() && pw.back() == '\r') pw.pop_back();
    return pw;
  }
  if (o.from_stdin || !::isatty(STDIN_FILENO)) return std::nullopt;
  std::string prompt = "Password for " + o.user + ": ";
  return prompt_secret(prompt.c_str());
}

std::optional<std::vector<NamedAddress>> parse_list(const std::vector<std::string>& items, const char* what) {
  std::vector<NamedAddress> out;
  for (const auto& item : items) {
    auto a = parse_named_address(item);
    if (!a) {
      fail(ex_usage, std::string("bad ") + what + " address: " + item);
      return std::nullopt;
    }
    out.push_back(std::move(*a));
  }
  return out;
}

bool is_ascii(std::string_view s) {
  for (unsigned char c : s)
    if (c >= 0x80) return false;
  return true;
}

// The draft from the command-line options, or nothing (after saying why).
std::optional<MessageDraft> draft_from_options(const SendOptions& o) {
  MessageDraft d;
  auto from = parse_named_address(o.from);
  if (!from) {
    fail(ex_usage, "bad --from address: " + o.from);
    return std::nullopt;
  }
  d.from = *from;
  auto to = parse_list(o.to, "--to"), cc = parse_list(o.cc, "--cc"), bcc = parse_list(o.bcc, "--bcc"),
       reply_to = parse_list(o.reply_to, "--reply-to");
  if (!to || !cc || !bcc || !reply_to) return std::nullopt;
  d.to = *to;
  d.cc = *cc;
  d.bcc = *bcc;
  d.reply_to = *reply_to;
  d.subject = o.subject;
  if (!o.text_file.empty()) {
    auto t = read_file(o.text_file);
    if (!t) {
      fail(ex_noinput, "cannot read --text-file " + o.text_file);
      return std::nullopt;
    }
    d.text = std::move(*t);
  } else if (!o.text.empty()) {
    d.text = o.text;
  }
  if (!o.html_file.empty()) {
    auto h = read_file(o.html_file);
    if (!h) {
      fail(ex_noinput, "cannot read --html-file " + o.html_file);
      return std::nullopt;
    }
    d.html = std::move(*h);
  }
  if (!d.text && !d.html) d.text = "";
  for (const auto& path : o.attach) {
    auto data = read_file(path);
    if (!data) {
      fail(ex_noinput, "cannot read --attach " + path);
      return std::nullopt;
    }
    Attachment a;
    a.filename = std::filesystem::path(path).filename().string();
    a.data = std::move(*data);
    d.attachments.push_back(std::move(a));
  }
  for (const auto& h : o.headers) {
    auto colon = h.find(':');
    if (colon == std::string::npos || colon == 0) {
      fail(ex_usage, "--header wants \"Name: value\": " + h);
      return std::nullopt;
    }
    std::string value = h.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    d.extra_headers.emplace_back(h.substr(0, colon), value);
  }
  d.extra_headers.emplace_back("X-Mailer", "tern send");
  return d;
}

std::string random_token() {
  std::random_device rd;
  std::uint64_t v = (std::uint64_t{rd()} << 32) ^ rd();
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string rfc5322_date() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::localtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S %z", &tm);
  return buf;
}

// -t: the message as given, its recipients from To, Cc and Bcc, Bcc removed
// (it would tell every recipient who else got it), Date and Message-ID added
// when missing (RFC 5322 §3.6 requires Date; §3.6.4 wants a Message-ID).
Result<BuiltMessage> message_from_stdin(const SendOptions& o, std::string raw) {
  auto fail_with = [](std::string text) { return std::unexpected(Error::permanent_failure(text, text)); };
  std::string msg = canonical_line_ends(raw);
  if (msg.find("\r\n\r\n") == std::string::npos && !msg.empty()) {
    // No body: the header must still end with an empty line.
    if (!msg.ends_with("\r\n")) msg += "\r\n";
    msg += "\r\n";
  }
  BuiltMessage out;
  auto fields = split_header(msg);
  std::string from_header;
  bool has_date = false, has_id = false;
  std::string without_bcc;
  std::size_t copied = 0;
  for (const auto& f : fields) {
    std::string name = f.name;
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (name == "to" || name == "cc" || name == "bcc")
      for (auto& a : extract_addresses(f.value)) out.envelope_to.push_back(a);
    if (name == "from" && from_header.empty()) {
      auto a = extract_addresses(f.value);
      if (!a.empty()) from_header = a.front();
    }
    if (name == "date") has_date = true;
    if (name == "message-id") {
      has_id = true;
      out.message_id = f.value;
    }
    if (name == "bcc") {
      without_bcc += msg.substr(copied, f.begin - copied);
      copied = f.end;
    }
  }
  without_bcc += msg.substr(copied);
  for (const auto& extra : {o.to, o.cc, o.bcc})
    for (const auto& item : extra)
      if (auto a = parse_named_address(item)) out.envelope_to.push_back(a->address);
  if (out.envelope_to.empty()) return fail_with("no recipients: the message has no To, Cc or Bcc and none was given");
  if (!o.from.empty()) {
    auto a = parse_named_address(o.from);
    if (!a) return fail_with("bad --from address: " + o.from);
    out.envelope_from = a->address;
  } else {
    out.envelope_from = from_header;
  }
  if (out.envelope_from.empty()) return fail_with("no sender: give --from or a From: header");
  std::string added;
  if (!has_date) added += "Date: " + rfc5322_date() + "\r\n";
  if (!has_id) {
    auto at = out.envelope_from.rfind('@');
    out.message_id = "<" + random_token() + "." + random_token() + "@" + out.envelope_from.substr(at + 1) + ">";
    added += "Message-ID: " + out.message_id + "\r\n";
  }
  out.data = added + without_bcc;
  out.body_8bit = !is_ascii(out.data);
  for (const auto& a : out.envelope_to) out.needs_smtputf8 |= !is_ascii(a);
  out.needs_smtputf8 |= !is_ascii(out.envelope_from);
  return out;
}

std::string describe(const smtp::Reply& r) {
  std::string s = std::to_string(r.code);
  if (!r.enhanced.empty()) s += " " + r.enhanced;
  for (const auto& l : r.lines) s += " " + l;
  return s;
}

void run_send(const SendOptions& o) {
  // The message is built up front (-t reads stdin now) and rebuilt for the
  // server's capabilities when it announces 8BITMIME.
  std::optional<MessageDraft> draft;
  std::optional<BuiltMessage> from_stdin;
  if (o.from_stdin) {
    std::string raw(std::istreambuf_iterator<char>(std::cin), {});
    auto m = message_from_stdin(o, std::move(raw));
    if (!m) return fail(ex_dataerr, m.error().client_text);
    from_stdin = std::move(*m);
  } else {
    if (o.from.empty()) return fail(ex_usage, "--from is required (or -t with a From: header)");
    draft = draft_from_options(o);
    if (!draft) return;
    if (auto check = build_message(*draft); !check) return fail(ex_dataerr, check.error().client_text);
  }
  auto build = [&](bool allow_8bit) -> Result<BuiltMessage> {
    if (from_stdin) return *from_stdin;
    BuildOptions opts;
    opts.allow_8bit = allow_8bit;
    return build_message(*draft, opts);
  };

  if (o.print_only) {
    auto m = build(false);
    if (!m) return fail(ex_dataerr, m.error().client_text);
    std::fwrite(m->data.data(), 1, m->data.size(), stdout);
    return;
  }
  if (o.server.empty()) return fail(ex_usage, "--server HOST[:PORT] is required");
  if (int(o.starttls) + int(o.implicit_tls) + int(o.no_tls) > 1)
    return fail(ex_usage, "--starttls, --tls and --no-tls exclude each other");

  SubmitSettings s;
  if (!parse_server(o.server, o.implicit_tls, s.host, s.port)) return fail(ex_usage, "bad --server " + o.server);
  s.tls = o.implicit_tls ? smtp::ClientTls::implicit
          : o.starttls   ? smtp::ClientTls::required
          : o.no_tls     ? smtp::ClientTls::off
                         : smtp::ClientTls::opportunistic;
  s.verify_certificate = !o.insecure;
  s.ca_file = o.ca_file;
  if (!o.helo.empty()) {
    s.helo_name = o.helo;
  } else {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    s.helo_name = host[0] ? host : "localhost";
  }
  if (!o.user.empty()) {
    auto pw = read_secret(o);
    if (!pw) return fail(ex_noinput, o.password_file.empty() ? "--user needs --password-file (stdin is not a terminal)"
                                                              : "cannot read --password-file " + o.password_file);
    s.credentials = smtp::ClientCredentials{o.user, *pw};
  }

  std::string message_id;
  std::size_t recipients = 0;
  auto payload = [&](const smtp::ServerCapabilities& caps) -> Result<SubmitPayload> {
    auto m = build(caps.eightbitmime);
    if (!m) return std::unexpected(m.error());
    message_id = m->message_id;
    recipients = m->envelope_to.size();
    SubmitPayload p;
    p.envelope.mail_from = m->envelope_from;
    p.envelope.recipients = m->envelope_to;
    p.envelope.size = m->data.size();
    p.envelope.body_8bit = m->body_8bit;
    p.envelope.needs_smtputf8 = m->needs_smtputf8;
    p.data = std::move(m->data);
    return p;
  };

  auto report = submit_message(s, payload);
  if (!report) return fail(report.error().permanent() ? ex_dataerr : ex_tempfail, report.error().detail);
  const auto& txn = report->transaction;
  if (!txn) {
    const auto& f = report->failure;
    std::string why = f ? f->detail : "the server closed the connection";
    if (f && f->reply) why += " (server said: " + describe(*f->reply) + ")";
    // A 5xx reply is final whatever stage it came at (535 for AUTH too).
    bool permanent = f && (!f->temporary || (f->reply && f->reply->code >= 500));
    return fail(permanent ? ex_unavailable : ex_tempfail, why);
  }
  std::size_t accepted = 0;
  bool temporary = false;
  for (const auto& r : txn->recipients) {
    if (r.response.outcome == smtp::Outcome::delivered) {
      ++accepted;
      continue;
    }
    temporary |= r.response.outcome == smtp::Outcome::temporary;
    std::fprintf(stderr, "tern send: %s: %s\n", r.recipient.c_str(), describe(r.response.reply).c_str());
  }
  if (accepted == 0) return fail(temporary ? ex_tempfail : ex_unavailable, "no recipient accepted the message");
  std::string last = report->last_reply ? describe(*report->last_reply) : "";
  for (const auto& r : txn->recipients)
    if (r.response.outcome == smtp::Outcome::delivered) last = describe(r.response.reply);
  std::printf("sent %s to %zu of %zu recipient(s)%s%s%s\n", message_id.c_str(), accepted, recipients,
              report->tls ? " over TLS" : "", report->authenticated ? " as " : "",
              report->authenticated ? o.user.c_str() : "");
  std::printf("server: %s\n", last.c_str());
  if (accepted < txn->recipients.size()) g_exit = temporary ? ex_tempfail : ex_unavailable;
}

}  // namespace

int send_exit_code() { return g_exit; }

void add_send_command(CLI::App& app) {
  auto o = std::make_shared<SendOptions>();
  auto* send = app.add_subcommand("send", "compose a message and submit it to a mail server (like a mail client)");
  send->add_option("--from", o->from, "sender, \"Name <addr>\" or addr (also MAIL FROM)");
  send->add_option("--to", o->to, "recipient (repeat for more)");
  send->add_option("--cc", o->cc, "copy recipient (repeat for more)");
  send->add_option("--bcc", o->bcc, "blind copy recipient: envelope only, not in the header");
  send->add_option("--reply-to", o->reply_to, "Reply-To address (repeat for more)");
  send->add_option("--subject", o->subject, "subject (UTF-8; encoded as RFC 2047 words when needed)");
  auto* text = send->add_option("--text", o->text, "plain-text body");
  send->add_option("--text-file", o->text_file, "plain-text body from a file")->excludes(text);
  send->add_option("--html-file", o->html_file, "HTML body from a file (with text: multipart/alternative)");
  send->add_option("--attach", o->attach, "attach a file (repeat for more)");
  send->add_option("--header", o->headers, "extra header \"Name: value\" (repeat for more)");
  send->add_option("--server", o->server, "submission server HOST[:PORT] (port 587, or 465 with --tls)");
  send->add_flag("--starttls", o->starttls, "require STARTTLS (default: use it when offered)");
  send->add_flag("--tls", o->implicit_tls, "implicit TLS from the first byte (port 465, RFC 8314)");
  send->add_flag("--no-tls", o->no_tls, "never use TLS (AUTH is then refused)");
  send->add_flag("--insecure", o->insecure, "do not check the server's certificate");
  send->add_option("--ca-file", o->ca_file, "trust the CA certificate(s) in this PEM file too");
  send->add_option("--user", o->user, "AUTH user name");
  send->add_option("--password-file", o->password_file, "file whose first line is the AUTH password");
  send->add_option("--helo", o->helo, "name for EHLO (default: this host's name)");
  send->add_flag("-t", o->from_stdin, "read a whole message from stdin; recipients from To, Cc, Bcc (like sendmail -t)");
  send->add_flag("--print", o->print_only, "print the message instead of sending it");
  send->callback([o] { run_send(*o); });
}

}  // namespace tern::cli
