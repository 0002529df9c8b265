#!/usr/bin/env bash
# Builds ringest. Usage: tools/build.sh [release|asan] ; binaries land in build/bin (release)
# or build-asan/bin (AddressSanitizer + UndefinedBehaviorSanitizer).
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-release}
case "$kind" in
  release) dir=build; flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DRINGEST_TESTS=ON -DRINGEST_BENCH=ON) ;;
  asan) dir=build-asan; flags=(-DCMAKE_BUILD_TYPE=Debug -DRINGEST_SANITIZE=ON -DRINGEST_TESTS=ON -DRINGEST_BENCH=OFF) ;;
  *) echo "usage: tools/build.sh [release|asan]" >&2; exit 2 ;;
esac
cmake -S . -B "$dir" "${flags[@]}" >/dev/null
cmake --build "$dir" -j"$(nproc)"
