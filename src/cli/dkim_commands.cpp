#include "cli/dkim_commands.hpp"

#include <cstdio>

#include "base/strings.hpp"
#include "services/dkim/dkim_keys.hpp"

namespace tern::cli {
namespace {
int g_exit = 0;

void fail(const std::string& text) {
  std::fprintf(stderr, "tern: %s\n", text.c_str());
  g_exit = 1;
}
}  // namespace

int dkim_exit_code() { return g_exit; }

void add_dkim_commands(CLI::App& app, std::function<Config()> load_config) {
  auto* dkim = app.add_subcommand("dkim", "DKIM signing keys for outgoing mail");
  dkim->require_subcommand(1);
  auto domain = std::make_shared<std::string>();
  auto selector = std::make_shared<std::string>("tern");
  auto algorithm = std::make_shared<std::string>("rsa");

  auto* keygen = dkim->add_subcommand("keygen", "create a key for DOMAIN and print the DNS TXT record to publish");
  keygen->add_option("domain", *domain)->required();
  keygen->add_option("--selector", *selector, "selector (default: tern)");
  keygen->add_option("--algorithm", *algorithm, "rsa (2048 bits) or ed25519")->check(CLI::IsMember({"rsa", "ed25519"}));
  keygen->callback([=] {
    Config cfg = load_config();
    auto type = dkim::parse_key_type(*algorithm);
    if (auto ok = dkim::check_names(*domain, *selector); !ok) return fail(ok.error().client_text);
    auto key = dkim::generate_key_files(cfg.data_dir, to_lower(*domain), to_lower(*selector), *type);
    if (!key) return fail(key.error().detail);
    std::printf("%s\n", dkim::zone_line(to_lower(*domain), to_lower(*selector), dkim::txt_record(*key)).c_str());
    std::fprintf(stderr, "Publish this record, then restart or reload ternd (SIGHUP) to sign with it.\n");
  });

  auto* show = dkim->add_subcommand("show", "print the DNS TXT record(s) for DOMAIN's keys");
  show->add_option("domain", *domain)->required();
  auto only = std::make_shared<std::string>();
  show->add_option("--selector", *only, "only this selector");
  show->callback([=] {
    Config cfg = load_config();
    std::string d = to_lower(*domain);
    std::error_code ec;
    bool any = false;
    for (const auto& e : std::filesystem::directory_iterator(cfg.data_dir / "dkim" / d, ec)) {
      if (e.path().extension() != ".key") continue;
      std::string sel = e.path().stem().string();
      if (!only->empty() && sel != to_lower(*only)) continue;
      auto key = dkim::load_private_key(e.path());
      if (!key) return fail(key.error().detail);
      std::printf("%s\n", dkim::zone_line(d, sel, dkim::txt_record(*key)).c_str());
      any = true;
    }
    if (!any) fail("no DKIM key for " + d + " (create one with: tern dkim keygen " + d + ")");
  });
}

}  // namespace tern::cli
