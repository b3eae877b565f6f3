#!/usr/bin/env bash
# Configures and builds Tern into ./build (Ninja, RelWithDebInfo unless
# BUILD_TYPE says otherwise). Used by run.sh and test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" >/dev/null
ninja -C build
