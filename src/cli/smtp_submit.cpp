#include "cli/smtp_submit.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace tern::cli {
namespace {

Error failure(std::string text) { return Error::temporary(text, text); }

std::string openssl_error() {
  unsigned long e = ERR_get_error();
  if (e == 0) return "TLS error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

// A connected socket, plain or TLS, with per-call deadlines.
class Connection {
 public:
  ~Connection() {
    if (ssl_) SSL_free(ssl_);
    if (ctx_) SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
  }

  Result<void> connect(const SubmitSettings& s) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG;
    addrinfo* list = nullptr;
    if (int rc = ::getaddrinfo(s.host.c_str(), s.port.c_str(), &hints, &list); rc != 0)
      return std::unexpected(failure("cannot resolve " + s.host + ": " + ::gai_strerror(rc)));
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(list, ::freeaddrinfo);
    std::string last = "no address";
    for (addrinfo* ai = list; ai; ai = ai->ai_next) {
      int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
      if (fd < 0) continue;
      int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
      if (rc != 0 && errno == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        rc = ::poll(&p, 1, static_cast<int>(s.connect_timeout.count() * 1000));
        int err = 0;
        socklen_t len = sizeof err;
        if (rc == 1 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) rc = 0;
        else {
          errno = rc == 0 ? ETIMEDOUT : (err ? err : errno);
          rc = -1;
        }
      }
      if (rc == 0) {
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        fd_ = fd;
        return {};
      }
      last = std::strerror(errno);
      ::close(fd);
    }
    return std::unexpected(failure("cannot connect to " + s.host + " port " + s.port + ": " + last));
  }

  Result<void> start_tls(const SubmitSettings& s) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (!ctx_) return std::unexpected(failure(openssl_error()));
    // RFC 8996 and RFC 8314 §4.1: nothing older than TLS 1.2.
    SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
    if (s.verify_certificate) {
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
      SSL_CTX_set_default_verify_paths(ctx_);
      if (!s.ca_file.empty() && SSL_CTX_load_verify_locations(ctx_, s.ca_file.c_str(), nullptr) != 1)
        return std::unexpected(failure("cannot read CA file " + s.ca_file));
    }
    ssl_ = SSL_new(ctx_);
    if (!ssl_) return std::unexpected(failure(openssl_error()));
    SSL_set_tlsext_host_name(ssl_, s.host.c_str());
    if (s.verify_certificate) SSL_set1_host(ssl_, s.host.c_str());
    SSL_set_fd(ssl_, fd_);
    set_deadline(std::chrono::seconds(60));
    if (SSL_connect(ssl_) != 1) {
      long verify = SSL_get_verify_result(ssl_);
      std::string why = verify != X509_V_OK ? std::string("certificate not trusted: ") +
                                                   X509_verify_cert_error_string(verify)
                                             : openssl_error();
      SSL_free(ssl_);
      ssl_ = nullptr;
      return std::unexpected(failure("TLS handshake with " + s.host + " failed: " + why));
    }
    return {};
  }

  // Bytes read, 0 at EOF; an error string on timeout or failure.
  std::expected<std::size_t, std::string> read(char* buf, std::size_t size, std::chrono::seconds timeout) {
    set_deadline(timeout);
    if (ssl_) {
      int n = SSL_read(ssl_, buf, static_cast<int>(size));
      if (n > 0) return static_cast<std::size_t>(n);
      int err = SSL_get_error(ssl_, n);
      if (err == SSL_ERROR_ZERO_RETURN) return 0;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return std::unexpected("timeout");
      return std::unexpected(err == SSL_ERROR_SYSCALL ? "connection closed" : openssl_error());
    }
    ssize_t n = ::recv(fd_, buf, size, 0);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EAGAIN || errno == EWOULDBLOCK) return std::unexpected("timeout");
    return std::unexpected(std::strerror(errno));
  }

  std::expected<void, std::string> write(std::string_view data, std::chrono::seconds timeout) {
    set_deadline(timeout);
    while (!data.empty()) {
      if (ssl_) {
        int n = SSL_write(ssl_, data.data(), static_cast<int>(data.size()));
        if (n <= 0) return std::unexpected("TLS write failed: " + openssl_error());
        data.remove_prefix(static_cast<std::size_t>(n));
      } else {
        ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0) return std::unexpected(std::string("write failed: ") + std::strerror(errno));
        data.remove_prefix(static_cast<std::size_t>(n));
      }
    }
    return {};
  }

 private:
  void set_deadline(std::chrono::seconds t) {
    timeval tv{static_cast<time_t>(t.count() > 0 ? t.count() : 300), 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }

  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
};

}  // namespace

Result<SubmitReport> submit_message(const SubmitSettings& settings, const PayloadBuilder& build) {
  Connection conn;
  if (auto r = conn.connect(settings); !r) return std::unexpected(r.error());
  if (settings.tls == smtp::ClientTls::implicit) {
    // RFC 8314 §3.3: TLS first, the SMTP greeting inside it.
    if (auto r = conn.start_tls(settings); !r) return std::unexpected(r.error());
  }

  smtp::ClientSettings cs;
  cs.helo_name = settings.helo_name;
  cs.tls = settings.tls;
  cs.credentials = settings.credentials;
  // With ClientTls::implicit the session knows TLS is already up.
  smtp::ClientSession session(std::move(cs));

  SubmitReport report;
  std::optional<Error> refused;  // the builder's reason not to send
  std::optional<SubmitPayload> payload;
  bool handed_over = false;
  char buf[16 * 1024];
  for (;;) {
    if (!session.output().empty()) {
      auto w = conn.write(session.output(), std::chrono::seconds(300));
      session.clear_output();
      if (!w) {
        session.on_connection_closed(w.error());
        continue;
      }
    }
    session.clear_output();
    while (auto r = session.take_result()) report.transaction = std::move(*r);

    switch (session.action()) {
      case smtp::ClientAction::read_reply: {
        auto n = conn.read(buf, sizeof buf, session.timeout_for_current_state());
        if (!n) {
          if (n.error() == "timeout") session.on_timeout();
          else session.on_connection_closed(n.error());
        } else if (*n == 0) {
          session.on_connection_closed();
        } else {
          session.feed(std::string_view(buf, *n));
        }
        break;
      }
      case smtp::ClientAction::start_tls:
        if (auto r = conn.start_tls(settings); r) session.on_tls_started();
        else session.on_tls_failed(r.error().detail);
        break;
      case smtp::ClientAction::ready:
        if (handed_over) {
          session.quit();
          break;
        }
        handed_over = true;
        if (auto p = build(session.capabilities()); p) {
          payload = std::move(*p);
          session.send_message(payload->envelope);
        } else {
          refused = p.error();
          session.quit();
        }
        break;
      case smtp::ClientAction::send_body:
        session.send_body_chunk(payload->data);
        if (!session.output().empty()) {
          auto w = conn.write(session.output(), std::chrono::seconds(600));
          session.clear_output();
          if (!w) {
            session.on_connection_closed(w.error());
            break;
          }
        }
        session.end_body();
        break;
      case smtp::ClientAction::close:
        report.failure = session.failure();
        report.last_reply = session.last_reply();
        report.tls = session.tls_active();
        report.authenticated = session.authenticated();
        if (refused) return std::unexpected(*refused);
        return report;
    }
  }
}

}  // namespace tern::cli
