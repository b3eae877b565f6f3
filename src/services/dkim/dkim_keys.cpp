#include "services/dkim/dkim_keys.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cerrno>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base64.hpp"
#include "base/strings.hpp"
#include "services/durable_file.hpp"

namespace tern::dkim {

Error openssl_error(std::string_view what) {
  std::string detail(what);
  // The queue is per thread; take all of it so the next call starts clean.
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    detail += detail.size() == what.size() ? ": " : "; ";
    detail += buf;
  }
  return Error::temporary("Local error in processing", std::move(detail));
}

namespace {

using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;

std::shared_ptr<evp_pkey_st> own(EVP_PKEY* key) { return {key, EVP_PKEY_free}; }

Error bad_key(std::string detail) { return Error::permanent_failure("Unusable DKIM key", std::move(detail)); }

Error key_exists(const std::filesystem::path& file) {
  return Error::permanent_failure("DKIM key exists", fmt::format("{} exists; not replacing it", file.string()));
}

std::string bio_contents(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

// Never ask for a pass phrase: our key files are not encrypted, and the
// default callback would prompt on a terminal.
int no_passphrase(char*, int, int, void*) { return 0; }

std::optional<KeyType> type_of(EVP_PKEY* key) {
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA: return KeyType::rsa;
    case EVP_PKEY_ED25519: return KeyType::ed25519;
    default: return std::nullopt;
  }
}

bool valid_label(std::string_view label) {
  if (label.empty() || label.size() > 63) return false;
  if (label.front() == '-' || label.back() == '-') return false;
  for (char c : label) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return false;
  }
  return true;
}

// Writes `content` to a new file in `final_path`'s directory and gives it
// its name only when it is complete and on disk. With replace = false the
// name is taken with link(2), which fails if it exists: no check-then-write race.
Result<void> write_key_file(const std::filesystem::path& final_path, std::string_view content, bool replace) {
  std::string temp = (final_path.parent_path() / ("." + final_path.filename().string() + ".XXXXXX")).string();
  UniqueFd fd(::mkostemp(temp.data(), O_CLOEXEC));
  if (!fd) return std::unexpected(Error::from_errno("create " + temp, errno));
  auto fail = [&](Error e) -> Result<void> {
    ::unlink(temp.c_str());
    return std::unexpected(std::move(e));
  };
  // mkostemp makes it 0600 already; say so anyway, whatever the umask did.
  if (::fchmod(fd.get(), 0600) != 0) return fail(Error::from_errno("chmod " + temp, errno));
  if (auto r = write_all(fd.get(), content, "write " + temp); !r) return fail(r.error());
  if (auto r = fsync_fd(fd.get(), "fsync " + temp); !r) return fail(r.error());
  fd.reset();
  if (replace) {
    if (::rename(temp.c_str(), final_path.c_str()) != 0)
      return fail(Error::from_errno("rename " + final_path.string(), errno));
  } else {
    if (::link(temp.c_str(), final_path.c_str()) != 0) {
      int err = errno;
      if (err == EEXIST) return fail(key_exists(final_path));
      return fail(Error::from_errno("link " + final_path.string(), err));
    }
    ::unlink(temp.c_str());
  }
  return fsync_directory(final_path.parent_path());
}

}  // namespace

std::string_view to_string(KeyType type) { return type == KeyType::rsa ? "rsa" : "ed25519"; }

std::optional<KeyType> parse_key_type(std::string_view text) {
  if (iequals(text, "rsa")) return KeyType::rsa;
  if (iequals(text, "ed25519")) return KeyType::ed25519;
  return std::nullopt;
}

Result<PrivateKey> PrivateKey::generate(KeyType type) {
  EVP_PKEY* key = type == KeyType::rsa
                      ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(rsa_generate_bits))
                      : EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (!key) return std::unexpected(openssl_error(fmt::format("generate {} key", to_string(type))));
  return PrivateKey(own(key), type);
}

Result<PrivateKey> PrivateKey::from_pem(std::string_view pem) {
  if (pem.size() > 64 * 1024) return std::unexpected(bad_key("key file larger than 64 KiB"));
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  if (!bio) return std::unexpected(openssl_error("BIO_new_mem_buf"));
  auto key = own(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  if (!key) {
    auto e = openssl_error("no unencrypted PEM private key");
    return std::unexpected(bad_key(e.detail));
  }
  auto type = type_of(key.get());
  if (!type) return std::unexpected(bad_key("key is neither RSA nor Ed25519"));
  if (int bits = EVP_PKEY_get_bits(key.get()); *type == KeyType::rsa && bits < rsa_min_bits)
    return std::unexpected(bad_key(fmt::format("RSA key of {} bits; RFC 8301 needs at least {}", bits, rsa_min_bits)));
  return PrivateKey(std::move(key), *type);
}

int PrivateKey::bits() const { return EVP_PKEY_get_bits(key_.get()); }

std::string PrivateKey::private_pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!bio || !PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr)) return {};
  return bio_contents(bio.get());
}

std::string PrivateKey::public_pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!bio || !PEM_write_bio_PUBKEY(bio.get(), key_.get())) return {};
  return bio_contents(bio.get());
}

std::string PrivateKey::public_key_data() const {
  if (type_ == KeyType::ed25519) {
    std::string raw(32, '\0');
    std::size_t len = raw.size();
    if (!EVP_PKEY_get_raw_public_key(key_.get(), reinterpret_cast<unsigned char*>(raw.data()), &len)) return {};
    raw.resize(len);
    return raw;
  }
  int len = i2d_PUBKEY(key_.get(), nullptr);
  if (len <= 0) return {};
  std::string der(static_cast<std::size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_PUBKEY(key_.get(), &p) != len) return {};
  return der;
}

bool valid_dkim_name(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  std::size_t start = 0;
  while (true) {
    auto dot = name.find('.', start);
    auto label = name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (!valid_label(label)) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

Result<void> check_names(std::string_view domain, std::string_view selector) {
  if (!valid_dkim_name(domain))
    return std::unexpected(Error::permanent_failure("Invalid DKIM domain", fmt::format("invalid domain {:?}", domain)));
  if (!valid_dkim_name(selector))
    return std::unexpected(
        Error::permanent_failure("Invalid DKIM selector", fmt::format("invalid selector {:?}", selector)));
  return {};
}

std::string record_name(std::string_view domain, std::string_view selector) {
  return to_lower(selector) + "._domainkey." + to_lower(domain);
}

std::string txt_record(const PrivateKey& key) {
  // RFC 6376 §3.6.1: v= first; k= says which algorithm the key is for (RFC
  // 8463 §4.2 registers "ed25519"); p= last, base64.
  return fmt::format("v=DKIM1; k={}; p={}", to_string(key.type()), base64_encode(key.public_key_data()));
}

std::vector<std::string> txt_strings(std::string_view record) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < record.size(); i += 255) out.emplace_back(record.substr(i, 255));
  if (out.empty()) out.emplace_back();
  return out;
}

std::string zone_line(std::string_view domain, std::string_view selector, std::string_view record) {
  std::string line = record_name(domain, selector) + ". IN TXT (";
  for (const auto& s : txt_strings(record)) {
    line += " \"";
    // RFC 1035 §5.1: inside quotes, '"' and '\' need a backslash. A record
    // we build has neither; one typed by hand might.
    for (char c : s) {
      if (c == '"' || c == '\\') line += '\\';
      line += c;
    }
    line += '"';
  }
  line += " )";
  return line;
}

KeyFiles key_files(const std::filesystem::path& data_dir, std::string_view domain, std::string_view selector) {
  auto dir = data_dir / "dkim" / to_lower(domain);
  std::string base = to_lower(selector);
  return KeyFiles{dir / (base + ".key"), dir / (base + ".pub")};
}

Result<PrivateKey> generate_key_files(const std::filesystem::path& data_dir, std::string_view domain,
                                      std::string_view selector, KeyType type) {
  if (auto r = check_names(domain, selector); !r) return std::unexpected(r.error());
  auto files = key_files(data_dir, domain, selector);
  std::error_code ec;
  // Fail before the (slow, for RSA) generation; write_key_file checks again
  // without a race.
  if (std::filesystem::exists(files.private_key, ec)) return std::unexpected(key_exists(files.private_key));
  if (auto r = make_private_dirs(files.private_key.parent_path()); !r) return std::unexpected(r.error());
  auto key = PrivateKey::generate(type);
  if (!key) return key;
  std::string private_pem = key->private_pem(), public_pem = key->public_pem();
  if (private_pem.empty() || public_pem.empty()) return std::unexpected(openssl_error("PEM encoding"));
  if (auto r = write_key_file(files.private_key, private_pem, false); !r) return std::unexpected(r.error());
  // The public file only repeats what the private one holds: replacing a
  // stale one is fine.
  if (auto r = write_key_file(files.public_key, public_pem, true); !r) return std::unexpected(r.error());
  return key;
}

Result<PrivateKey> load_private_key(const std::filesystem::path& file) {
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::unexpected(Error::from_errno("open " + file.string(), errno));
  std::string pem;
  char buf[4096];
  while (true) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(Error::from_errno("read " + file.string(), errno));
    }
    if (n == 0) break;
    pem.append(buf, static_cast<std::size_t>(n));
    if (pem.size() > 64 * 1024) break;  // from_pem refuses it
  }
  auto key = PrivateKey::from_pem(pem);
  if (!key) {
    auto e = key.error();
    e.detail = file.string() + ": " + e.detail;
    return std::unexpected(std::move(e));
  }
  return key;
}

}  // namespace tern::dkim
