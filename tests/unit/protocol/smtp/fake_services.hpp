// An in-memory smtp::SessionServices for session tests: a configurable
// recipient policy (local users and domains, everything else is relay),
// a record of every call, and failure switches for each step (lookup,
// open_message, the commit the driver performs).
#pragma once
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/strings.hpp"
#include "protocol/smtp/session_services.hpp"

namespace tern::smtp::testing {

struct StoredMessage {
  std::string id;
  Envelope envelope;
  std::string trace_header;  // the session's Received: header (first write)
  std::string body;          // everything written after it
};

class FakeServices final : public SessionServices {
 public:
  FakeServices() = default;
  // Users as "local@domain"; their domains become the local domains.
  FakeServices(std::initializer_list<std::string> user_addresses) { set_users(user_addresses); }

  template <typename Range>
  void set_users(const Range& user_addresses) {
    users.clear();
    local_domains.clear();
    for (const std::string& u : user_addresses) {
      users.insert(to_lower(u));
      local_domains.insert(to_lower(u.substr(u.rfind('@') + 1)));
    }
  }

  // --- configuration ---------------------------------------------------------
  std::set<std::string> local_domains{"example.test"};
  std::set<std::string> users{"demo@example.test", "alice@example.test", "bob@example.test",
                              "postmaster@example.test"};
  bool lookup_fails = false;  // check_recipient -> try_later
  bool fail_open = false;     // open_message -> temporary error
  bool fail_commit = false;   // commit() -> temporary error
  std::optional<Reply> refuse_mail;                 // check_sender's answer (rate limit, blocklist)
  std::optional<RecipientVerdict> policy_verdict;   // replaces accept (rate_limited, greylisted)

  // --- what happened -----------------------------------------------------------
  std::vector<std::string> journal;  // one line per call, in order
  std::vector<StoredMessage> committed;
  std::optional<StoredMessage> open;
  int discards = 0;

  bool sender_allowed(const std::string& user, const MailAddress& sender) override {
    return to_lower(sender.to_string()) == to_lower(user);
  }
  RecipientVerdict check_recipient(const Envelope&, const MailAddress& rcpt) override {
    journal.push_back("check " + rcpt.to_string());
    if (lookup_fails) return RecipientVerdict::try_later;
    if (rcpt.domain.empty())
      return iequals(rcpt.local_part, "postmaster") ? RecipientVerdict::accept : RecipientVerdict::unknown_user;
    if (users.contains(rcpt.lookup_key())) return policy_verdict.value_or(RecipientVerdict::accept);
    if (local_domains.contains(to_lower(rcpt.domain))) return RecipientVerdict::unknown_user;
    return RecipientVerdict::relay_denied;
  }

  std::optional<Reply> check_sender(const Envelope&) override { return refuse_mail; }

  Result<std::string> open_message(const Envelope& envelope) override {
    journal.push_back("open " + std::to_string(envelope.recipients.size()));
    if (fail_open) return std::unexpected(Error::temporary("Local error: cannot open message", "injected"));
    std::string id = std::to_string(100000 + ++opened_);  // "TESTQUEUEID00001", ...
    id = "TESTQUEUEID" + id.substr(1);
    open = StoredMessage{id, envelope, {}, {}};
    trace_pending_ = true;
    return id;
  }

  void write_message(std::string_view bytes) override {
    if (!open) {
      journal.push_back("write without open");
      return;
    }
    if (trace_pending_) {
      open->trace_header.append(bytes);
      trace_pending_ = false;
    } else {
      open->body.append(bytes);
    }
  }

  void discard_message() override {
    journal.push_back("discard");
    ++discards;
    open.reset();
  }

  // The durability step the runtime performs before it calls on_commit().
  Result<void> commit() {
    journal.push_back("commit");
    if (!open) return std::unexpected(Error::temporary("Local error", "commit without open"));
    if (fail_commit) {
      open.reset();
      return std::unexpected(Error::temporary("Local error in processing", "injected"));
    }
    committed.push_back(std::move(*open));
    open.reset();
    return {};
  }

 private:
  unsigned opened_ = 0;
  bool trace_pending_ = false;
};

}  // namespace tern::smtp::testing
