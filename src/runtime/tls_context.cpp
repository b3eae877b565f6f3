#include "runtime/tls_context.hpp"

#include <cstdio>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include "services/durable_file.hpp"

namespace tern::runtime {
namespace ssl = boost::asio::ssl;

namespace {

// A 2048-bit RSA key and a self-signed certificate for hostname, valid ten
// years. Written with mode 0600 (the key) before anything listens.
Result<void> generate_self_signed(const std::string& hostname, const std::filesystem::path& cert_path,
                                  const std::filesystem::path& key_path) {
  auto fail = [](std::string what) {
    return std::unexpected(Error::temporary("TLS setup failed", std::move(what)));
  };
  EVP_PKEY* key = EVP_RSA_gen(2048);
  if (!key) return fail("RSA key generation failed");
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key_guard(key, EVP_PKEY_free);
  X509* cert = X509_new();
  std::unique_ptr<X509, decltype(&X509_free)> cert_guard(cert, X509_free);
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), static_cast<long>(std::time(nullptr)));
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 10L * 365 * 24 * 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(hostname.c_str()), -1,
                             -1, 0);
  X509_set_issuer_name(cert, name);
  // RFC 6125 §6.4.4: clients match the name in subjectAltName; many (Python
  // among them) no longer look at the CN at all.
  X509V3_CTX ext_ctx;
  X509V3_set_ctx_nodb(&ext_ctx);
  X509V3_set_ctx(&ext_ctx, cert, cert, nullptr, nullptr, 0);
  std::string san = "DNS:" + hostname;
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ext_ctx, NID_subject_alt_name, san.c_str());
  if (!ext) return fail("cannot build the subjectAltName extension");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (X509_sign(cert, key, EVP_sha256()) == 0) return fail("certificate signing failed");

  ::umask(077);
  std::FILE* kf = std::fopen(key_path.c_str(), "w");
  if (!kf) return fail("cannot write " + key_path.string());
  bool ok = PEM_write_PrivateKey(kf, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  std::fclose(kf);
  std::FILE* cf = std::fopen(cert_path.c_str(), "w");
  if (!cf) return fail("cannot write " + cert_path.string());
  ok = ok && PEM_write_X509(cf, cert) == 1;
  std::fclose(cf);
  if (!ok) return fail("cannot write the generated certificate");
  return {};
}

}  // namespace

Result<std::shared_ptr<ssl::context>> make_server_tls_context(const Config& config) {
  std::filesystem::path cert = config.tls.certificate, key = config.tls.key;
  if (cert.empty()) {
    auto dir = config.data_dir / "tls";
    if (auto r = make_private_dirs(dir); !r) return std::unexpected(r.error());
    cert = dir / "cert.pem";
    key = dir / "key.pem";
    std::error_code ec;
    if (!std::filesystem::exists(cert, ec) || !std::filesystem::exists(key, ec)) {
      if (auto r = generate_self_signed(config.hostname, cert, key); !r) return std::unexpected(r.error());
      spdlog::warn("event=tls_self_signed certificate={} hint=\"set [tls] certificate and key for a real one\"",
                   cert.string());
    }
  }
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  // TLS 1.2 and 1.3 only; the server picks the cipher (OpenSSL's defaults are
  // AEAD-first for TLS 1.2).
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  SSL_CTX_set_options(ctx->native_handle(), SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
  boost::system::error_code ec;
  ctx->use_certificate_chain_file(cert.string(), ec);
  if (!ec) ctx->use_private_key_file(key.string(), ssl::context::pem, ec);
  if (ec)
    return std::unexpected(Error::temporary("TLS setup failed",
                                            fmt::format("loading {} / {}: {}", cert.string(), key.string(), ec.message())));
  return ctx;
}

}  // namespace tern::runtime
