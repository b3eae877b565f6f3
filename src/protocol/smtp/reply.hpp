// An SMTP reply as a value: code, RFC 3463 enhanced status code and text lines.
// Rendering decides the wire form (multi-line "250-", enhanced code or not).
#pragma once
#include <string>
#include <vector>

namespace tern::smtp {

struct Reply {
  int code = 250;
  std::string enhanced;            // "2.1.0"; empty for replies that never carry one
  std::vector<std::string> lines;  // at least one

  Reply(int c, std::string e, std::string text) : code(c), enhanced(std::move(e)), lines{std::move(text)} {}
  Reply(int c, std::string e, std::vector<std::string> text) : code(c), enhanced(std::move(e)), lines(std::move(text)) {}

  bool positive() const { return code < 400; }
  // RFC 5321 §4.2.1: "250-" on every line but the last, which has "250 ".
  // with_enhanced: RFC 2034 codes are shown once the client saw ENHANCEDSTATUSCODES.
  void render(std::string& out, bool with_enhanced) const;
};

}  // namespace tern::smtp
