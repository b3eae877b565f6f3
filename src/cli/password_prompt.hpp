// Reading a secret from the terminal with echo off, for the commands that
// take passwords (`tern user add|passwd`, `tern send --user`): never from argv.
#pragma once
#include <string>

namespace tern::cli {

// Prints `prompt` on stderr, reads one line from stdin with echo off, and
// restores the terminal. The caller checks that stdin is a terminal.
std::string prompt_secret(const char* prompt);

}  // namespace tern::cli
