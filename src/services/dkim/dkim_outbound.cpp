#include "services/dkim/dkim_outbound.hpp"

#include <chrono>
#include <spdlog/spdlog.h>

#include "base/strings.hpp"
#include "services/dkim/dkim_keys.hpp"

namespace tern::dkim {

const std::vector<Signer>& OutboundSigner::signers_for(const std::string& domain) {
  auto it = cache_.find(domain);
  if (it != cache_.end()) return it->second;
  std::vector<Signer> signers;
  std::error_code ec;
  if (valid_dkim_name(domain)) {
    for (const auto& e : std::filesystem::directory_iterator(data_dir_ / "dkim" / domain, ec)) {
      if (e.path().extension() != ".key") continue;
      auto key = load_private_key(e.path());
      if (!key) {
        spdlog::error("event=dkim_key_unusable file={} error=\"{}\"", e.path().string(), key.error().detail);
        continue;
      }
      auto s = Signer::create(domain, e.path().stem().string(), std::move(*key));
      if (s) signers.push_back(std::move(*s));
    }
  }
  return cache_.emplace(domain, std::move(signers)).first->second;
}

std::string OutboundSigner::sign(const QueueEnvelope& envelope, std::string_view message) {
  auto at = envelope.sender.rfind('@');
  if (at == std::string::npos) return {};  // null sender: bounces are not signed
  std::string domain = to_lower(envelope.sender.substr(at + 1));
  std::lock_guard lock(mu_);
  const auto& signers = signers_for(domain);
  std::string out;
  auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  for (const auto& s : signers) {
    auto sig = s.sign(message, now);
    if (sig) out += *sig;
    else spdlog::warn("queue_id={} event=dkim_sign_failed domain={} error=\"{}\"", envelope.id, domain, sig.error().detail);
  }
  return out;
}

}  // namespace tern::dkim
