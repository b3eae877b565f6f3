#!/usr/bin/env bash
# Installs every Debian package Tern's build, tests and benchmarks need.
# Idempotent and quiet: packages already present are skipped, so a second run is fast.
set -euo pipefail

build_pkgs=(
  ca-certificates git pkg-config cmake ninja-build g++ clang-19 libclang-rt-19-dev
  libboost1.81-dev libssl-dev libtomlplusplus-dev libspdlog-dev libfmt-dev libcli11-dev
  libsqlite3-dev libsodium-dev nlohmann-json3-dev libunbound-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  publicsuffix
)
test_pkgs=(
  python3 python3-pytest python3-aiosmtpd python3-dnspython swaks msmtp
  postfix unbound iproute2 util-linux procps openssl libnet-ssleay-perl python3-dkim python3-nacl opendkim-tools
  python3-spf python3-yaml
)

want=("${build_pkgs[@]}")
if [ "${1:-}" = "--with-tests" ]; then want+=("${test_pkgs[@]}"); fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root (or install them)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Postfix is a test peer and benchmark reference only: preseed it so no system
# instance is configured or takes port 25.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
echo "postfix postfix/mailname string localhost" | debconf-set-selections

apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# A preseeded postfix may still have been started by the package scripts.
if command -v postfix >/dev/null 2>&1; then postfix stop >/dev/null 2>&1 || true; fi
