#!/usr/bin/env bash
# Builds ringest. Usage: tools/build.sh [release|asan|fuzz] ; binaries land in build/bin
# (release), build-asan/bin (AddressSanitizer + UndefinedBehaviorSanitizer) or build-fuzz/bin
# (the libFuzzer targets of tests/fuzz, with clang; run them with tools/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-release}
case "$kind" in
  release) dir=build; flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DRINGEST_TESTS=ON -DRINGEST_BENCH=ON) ;;
  asan) dir=build-asan; flags=(-DCMAKE_BUILD_TYPE=Debug -DRINGEST_SANITIZE=ON -DRINGEST_TESTS=ON -DRINGEST_BENCH=OFF) ;;
  fuzz) dir=build-fuzz; flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang
                               -DCMAKE_CXX_COMPILER=clang++ -DRINGEST_FUZZ=ON -DRINGEST_TESTS=OFF
                               -DRINGEST_BENCH=OFF) ;;
  *) echo "usage: tools/build.sh [release|asan|fuzz]" >&2; exit 2 ;;
esac
cmake -S . -B "$dir" "${flags[@]}" >/dev/null
cmake --build "$dir" -j"$(nproc)"
