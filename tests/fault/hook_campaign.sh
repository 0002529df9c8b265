#!/usr/bin/env bash
# The long hook campaign: SIGKILL ringestd at random moments while 8 clients finish uploads, for
# --rounds N rounds (default 200; the test suite runs 30), then check that every finished
# upload's `finished` event reached the receiver at least once, and report duplicates.
# Needs a build (tools/build.sh release). Loopback only; stops by itself.
# Usage: tests/fault/hook_campaign.sh [--rounds N] [--build DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=200; build=build
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    *) echo "usage: tests/fault/hook_campaign.sh [--rounds N] [--build DIR]" >&2; exit 2 ;;
  esac
done
RINGEST_HOOK_ROUNDS=$rounds "$build/bin/ringest_fault_tests" --gtest_filter='HookCampaign.*'
