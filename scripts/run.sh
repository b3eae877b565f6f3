#!/usr/bin/env bash
# The README's first command: install what is missing, build, and start Tern
# in the foreground on its embedded defaults (SMTP on 127.0.0.1:2525, domain
# example.test, user demo@example.test, data in ./var). Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
exec ./build/ternd "$@"
