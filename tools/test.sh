#!/usr/bin/env bash
# Every test: installs what is missing (setup.sh: also npm ci in ui/ and tests/browser), builds the
# release and the ASan+UBSan binaries, installs the end-to-end client (npm ci), then runs unit,
# integration, end-to-end and browser (chromium) tests against both builds, and last a short run
# of each fuzz target (build-fuzz). Loopback only; bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
(cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
bash tools/build.sh release
bash tools/build.sh asan
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
# The end-to-end and browser tests are registered only when their clients are installed: make a
# missing one a failure here rather than a test that silently is not there.
for build in build build-asan; do
  for label in e2e browser; do
    if ! ctest --test-dir "$build" -N -L "$label" | grep -q "Total Tests: [1-9]"; then
      echo "test.sh: no $label test in $build (chromium, or npm ci in tests/ or ui/, missing?)" >&2
      status=1
    fi
  done
done
echo "== release build"
ctest --test-dir build --no-tests=error --output-on-failure -j2 --timeout 600 || status=1
# The other two data paths run every black-box suite that sends bodies through a data path;
# the suites that never touch one (the page's files, the naive baseline binary, access decisions
# made at the head, flags, hooks and expiry, which act on committed state) run once, above.
mode_free='^(UiAssets|NaiveReadall|AccessControl|AccessControlCli|ServerCli|FaultPlanFlag|'
mode_free+='TusExtensionHeaders|Hooks|PreCreateHook|PreCreateHookTus|HookCampaign|Expiry|'
mode_free+='TusExpiration)\.'
echo "== release build, --io-mode buffered (the same black-box tests on the other data path)"
RINGEST_TEST_IO_MODE=buffered ctest --test-dir build --no-tests=error --output-on-failure -j2 \
  --timeout 600 -L 'integration|fault' -E "$mode_free" || status=1
echo "== release build, --io-mode splice (socket -> pipe -> file)"
RINGEST_TEST_IO_MODE=splice ctest --test-dir build --no-tests=error --output-on-failure -j2 \
  --timeout 600 -L 'integration|fault' -E "$mode_free" || status=1
echo "== AddressSanitizer + UndefinedBehaviorSanitizer build"
ctest --test-dir build-asan --no-tests=error --output-on-failure -j2 --timeout 900 || status=1
echo "== fuzz targets (clang, libFuzzer; a fixed number of runs each, tools/fuzz.sh runs longer)"
if bash tools/build.sh fuzz; then
  ctest --test-dir build-fuzz --no-tests=error --output-on-failure -j2 --timeout 300 -L fuzz \
    || status=1
else
  status=1
fi
exit $status
