#!/usr/bin/env bash
# The README's second command: install what is missing (build and test
# dependencies), build, and run every test: unit tests (ctest), each fuzz
# target briefly, and the integration suite against the real ternd with real
# clients and peers. The integration suite runs in a private network
# namespace (only loopback), so no test can reach the outside or the
# system's DNS resolver.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --with-tests
bash scripts/build.sh

echo "== unit tests"
ctest --test-dir build --output-on-failure -j2

echo "== fuzz targets (briefly)"
bash fuzz/run_all.sh

echo "== integration tests"
unshare -n bash -c 'ip link set lo up && exec /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration'
