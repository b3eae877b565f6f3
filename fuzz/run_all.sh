#!/usr/bin/env bash
# Builds the libFuzzer targets with clang in build-fuzz/ and runs each one for
# FUZZ_SECONDS (default 5) from its seed corpus in fuzz/corpus/<target>/; new
# inputs go to fuzz/corpus-work/<target>/ (git-ignored). Exits non-zero if any
# target crashes, leaks, times out or breaks an invariant; the input that did
# it is kept as build-fuzz/artifacts/<target>-crash-*.
#
# Compiler: $CXX if set, else the first clang++ whose C++ library provides
# std::expected (with libstdc++ 12 that is clang 19 or newer: older clang
# reports __cpp_concepts < 202002 and libstdc++ hides <expected>).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-5}"
build=build-fuzz
targets=(fuzz_smtp_session fuzz_smtp_command fuzz_data_decoder fuzz_mail_address fuzz_smtp_reply fuzz_dns_records fuzz_sasl fuzz_dkim_canon fuzz_dkim_tags fuzz_mime_builder fuzz_address_list fuzz_dmarc_record fuzz_spf_record fuzz_spf_macro)

works() {  # compiler: can it build a libFuzzer target that uses std::expected?
  local probe
  probe="$(mktemp -d)"
  cat >"$probe/p.cpp" <<'CPP'
#include <expected>
#include <cstddef>
#include <cstdint>
std::expected<int, int> f(int x) { return x; }
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t*, std::size_t n) { return *f(0) + static_cast<int>(n & 0); }
CPP
  local ok=1
  "$1" -std=c++23 -fsanitize=fuzzer,address,undefined "$probe/p.cpp" -o "$probe/p" >/dev/null 2>&1 || ok=0
  rm -rf "$probe"
  [ "$ok" = 1 ]
}

if [ -n "${CXX:-}" ]; then
  candidates=("$CXX")
else
  candidates=(clang++-22 clang++-21 clang++-20 clang++-19 clang++)
fi
cxx=""
for c in "${candidates[@]}"; do
  if command -v "$c" >/dev/null 2>&1 && works "$c"; then cxx="$(command -v "$c")"; break; fi
done
if [ -z "$cxx" ]; then
  echo "fuzz: no usable clang++ (tried: ${candidates[*]}); needs libFuzzer and std::expected" >&2
  echo "fuzz: on Debian 12: apt-get install clang-19 libclang-rt-19-dev" >&2
  exit 1
fi
cc="${CC:-${cxx/clang++/clang}}"

# A cache made with another compiler cannot be reconfigured in place.
if [ -f "$build/CMakeCache.txt" ] && ! grep -qx "CMAKE_CXX_COMPILER:FILEPATH=$cxx" "$build/CMakeCache.txt" \
   && ! grep -q "^CMAKE_CXX_COMPILER:[A-Z]*=$cxx\$" "$build/CMakeCache.txt"; then
  rm -rf "$build"
fi
mkdir -p "$build"
if ! { CC="$cc" CXX="$cxx" cmake -S . -B "$build" -G Ninja -DTERN_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
       ninja -C "$build" "${targets[@]}"; } >"$build/build.log" 2>&1; then
  echo "fuzz: build with $cxx failed; last lines of $build/build.log:" >&2
  tail -n 40 "$build/build.log" >&2
  exit 1
fi

mkdir -p "$build/artifacts" "$build/logs"
# UBSan findings are failures, not warnings; ASan leak checks stay on.
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export ASAN_OPTIONS="detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"

failed=()
for t in "${targets[@]}"; do
  work="fuzz/corpus-work/$t"
  mkdir -p "$work"
  log="$build/logs/$t.log"
  if "$build/fuzz/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
       -print_final_stats=1 -artifact_prefix="$build/artifacts/$t-" "$work" "fuzz/corpus/$t" >"$log" 2>&1; then
    runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
    echo "fuzz: $t ok (${runs} runs in ${seconds}s)"
  else
    echo "fuzz: $t FAILED; last lines of $log:" >&2
    tail -n 30 "$log" >&2
    failed+=("$t")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: ${#failed[@]} of ${#targets[@]} targets failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets ok"
