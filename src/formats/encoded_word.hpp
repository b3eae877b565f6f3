// Header fields as a mail client writes them: RFC 5322 folding (§2.2.3),
// RFC 2047 encoded words for text that is not plain ASCII, and address lists
// with display names (§3.4). Formatting only: callers validate first (see
// header_text_problem); nothing here reads or checks addresses.
#pragma once
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tern {

// RFC 3629 UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool is_valid_utf8(std::string_view s);

// Why `text` cannot go into a header field, or nullopt when it can: a CR or
// LF (header injection), another control character (TAB is fine), or bytes
// that are not UTF-8 (we label encoded words utf-8).
std::optional<std::string> header_text_problem(std::string_view text);

// Splits UTF-8 text into RFC 2047 "B" encoded words, =?utf-8?B?...?=. The
// first word is at most `first_limit` octets, the others at most `limit`
// (RFC 2047 §2: 75 at most). A word never ends inside a UTF-8 sequence
// (§5: each word must be decodable on its own). A limit too small for one
// character is raised to 75. Empty text gives no words.
std::vector<std::string> encode_words(std::string_view text, std::size_t first_limit = 75, std::size_t limit = 75);

// Decodes the encoded words in a header value (folded or not) written the
// RFC 2047 way: whitespace between two encoded words disappears (§6.2),
// B and Q words in utf-8 or us-ascii are decoded; any other word (another
// charset, bad base64, not UTF-8 after decoding) is kept as it is (§6.3).
std::string decode_encoded_words(std::string_view value);

// One header field under construction: "Name:" then tokens, folded before
// a token's leading whitespace when the line would pass 78 octets (RFC 5322
// §2.1.1 SHOULD). Never folds inside a token, nor before the first one (but
// see add_encoded), so a line is only longer than 78 when a token is.
class HeaderFolder {
 public:
  static constexpr std::size_t line_limit = 78;

  explicit HeaderFolder(std::string_view name);
  // Appends `token` after `space` (SP/TAB; a fold may go before it). An empty
  // `space` glues the token to the previous one.
  void add(std::string_view token, std::string_view space = " ");
  // Appends UTF-8 text as encoded words, the first sized to fill the line
  // unless `fewest_words` and that would take one word more (phrases).
  void add_encoded(std::string_view text, bool fewest_words = false);
  // The whole field, ending in CRLF.
  std::string finish() &&;

 private:
  void add_token(std::string_view token, std::string_view space, bool may_fold_first);
  std::size_t column() const { return out_.size() - line_start_; }
  std::string out_;
  std::size_t line_start_ = 0;
  bool has_token_ = false;
};

// "Name: text" folded at the text's own whitespace, nothing encoded: the
// text must be printable ASCII (callers check). A line can exceed 78 octets
// only where a single word does.
std::string fold_field(std::string_view name, std::string_view text);

// An unstructured field (RFC 5322 §3.2.5: Subject, Comments, X-...). Printable
// ASCII that folds well stays as it is; anything else (non-ASCII, TAB,
// leading or trailing whitespace, "=?", a word too long to fold) becomes
// encoded words, so a reader gets back exactly `text`. Empty text: "Name:".
std::string format_unstructured_field(std::string_view name, std::string_view text);

struct NamedAddress {
  std::string name;     // display name, UTF-8; empty for none
  std::string address;  // addr-spec, local@domain
};

// "Name <a@b>", "\"Doe, J\" <a@b>", "<a@b>" or "a@b", as typed on a command
// line. The address is whatever sits in the last <...>; a quoted name is
// unquoted. Does not check the address. nullopt: empty, or "<" without ">".
std::optional<NamedAddress> parse_named_address(std::string_view text);

// The display name as it goes before "<address>" (unfolded): atoms when it
// is made of them, else a quoted string when it is ASCII (RFC 5322 §3.2.4),
// else encoded words for the words that are not atoms. Python's parser keeps
// whitespace between two encoded words of a phrase (RFC 2047 §6.2 drops it),
// so names are cut into as few encoded words as possible: one, when the
// encoded part is at most 45 octets.
std::string format_display_name(std::string_view name);

// An address list field (From, To, Cc, Reply-To, §3.6.2-3): "Name <a@b>"
// or a bare "a@b" when there is no name, separated by commas, folded
// between mailboxes and words. An empty list gives the group
// "undisclosed-recipients:;" (§3.4).
std::string format_address_field(std::string_view name, std::span<const NamedAddress> list);

}  // namespace tern
