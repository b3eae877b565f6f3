// `tern send`: a mail client on the command line, like the seeds' PHPMailer
// example. It builds a MIME message (formats/mime_builder) or takes one from
// stdin (-t, as sendmail does) and submits it (cli/smtp_submit).
#pragma once
#include <CLI/CLI.hpp>

namespace tern::cli {

void add_send_command(CLI::App& app);
int send_exit_code();

}  // namespace tern::cli
