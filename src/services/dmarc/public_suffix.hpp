// The Public Suffix List (https://publicsuffix.org/list/) and the
// Organizational Domain of RFC 7489 §3.2 built on it. Pure: the list is parsed
// from text (load_public_suffix_list in dmarc_evaluator.hpp reads the file),
// lookups touch no I/O, and the object is immutable after parse(), so one
// list may be shared by every thread.
//
// Sections: by default the whole list is used, ICANN and PRIVATE sections
// alike, as OpenDMARC, libpsl-based and most other DMARC implementations do:
// a PRIVATE rule such as "blogspot.com" makes "alice.blogspot.com" an
// organisation of its own, so it cannot borrow blogspot.com's alignment.
// Sections::icann_only is there for who wants the narrower reading.
//
// IDN: rules in the file are Unicode (U-labels). They are converted to
// A-labels with the Punycode encoder below (RFC 3492; no IDNA2008 mapping
// beyond ASCII lower-casing, the list is already in normalised form), so the
// "xn--" names that DNS and mail headers carry match them. A name given to
// a lookup may be in either form.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

namespace tern::dmarc {

// RFC 3492 §6.3 Punycode encoding of a sequence of code points ("münchen" ->
// "mnchen-3ya"); nothing on an impossible input (over 255 code points).
std::optional<std::string> punycode_encode(std::u32string_view code_points);

// One label to its ASCII form: ASCII lower-cased as is, anything else
// "xn--" + Punycode of its UTF-8 code points; nothing for invalid UTF-8.
std::optional<std::string> to_a_label(std::string_view label);

// A whole name: labels to A-labels, ASCII lower-cased, one trailing dot
// removed; "" stays "". Nothing when a label is empty ("a..b") or invalid UTF-8.
std::optional<std::string> normalize_domain(std::string_view name);

class PublicSuffixList {
 public:
  enum class Sections { all, icann_only };

  // Never fails: lines that are not rules (comments, blanks) are skipped, and
  // so is a rule that cannot be used (invalid UTF-8, '*' not leading).
  static PublicSuffixList parse(std::string_view text, Sections sections = Sections::all);

  // The public suffix of `name` by the list's algorithm: exception rules
  // first, then the rule matching the most labels, then the default rule
  // "*" (the last label). Returned normalised (see normalize_domain); empty
  // for an empty or invalid name (or one longer than 253 octets).
  std::string public_suffix(std::string_view name) const;

  // RFC 7489 §3.2: the public suffix plus one more label of `name`. A name
  // that is itself a public suffix has no such label and is returned as it
  // is (normalised). Empty for an empty or invalid name.
  std::string organizational_domain(std::string_view name) const;

  std::size_t rule_count() const { return exact_.size() + wildcard_.size() + exception_.size(); }

 private:
  // How many of the trailing labels of the normalised `name` form its public suffix.
  std::size_t suffix_labels(const std::string& name) const;

  std::unordered_set<std::string> exact_;      // "co.uk"
  std::unordered_set<std::string> wildcard_;   // "*.ck" stored as "ck"
  std::unordered_set<std::string> exception_;  // "!www.ck" stored as "www.ck"
};

}  // namespace tern::dmarc
