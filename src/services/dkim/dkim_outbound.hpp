// Which outgoing mail gets signed, with which keys: a message whose envelope
// sender is in a domain with keys in <data_dir>/dkim/<domain>/*.key is signed
// with each of them (RSA and Ed25519 side by side is what RFC 8463 §1
// suggests while verifiers catch up). Keys are loaded once and cached;
// `tern dkim keygen` takes effect at the next start or SIGHUP.
#pragma once
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "services/dkim/dkim_signer.hpp"
#include "services/spool.hpp"

namespace tern::dkim {

class OutboundSigner {
 public:
  explicit OutboundSigner(std::filesystem::path data_dir) : data_dir_(std::move(data_dir)) {}
  // "DKIM-Signature: ..." fields to prepend, or "" when nothing applies.
  std::string sign(const QueueEnvelope& envelope, std::string_view message);
  // Forget the loaded keys (SIGHUP): new ones are read at the next message.
  void clear() {
    std::lock_guard lock(mu_);
    cache_.clear();
  }

 private:
  const std::vector<Signer>& signers_for(const std::string& domain);
  std::filesystem::path data_dir_;
  std::mutex mu_;
  std::map<std::string, std::vector<Signer>> cache_;
};

}  // namespace tern::dkim
