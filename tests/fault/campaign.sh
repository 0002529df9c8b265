#!/usr/bin/env bash
# The long crash campaigns: SIGKILL ringestd at random moments while 8 clients upload and
# resume (and while 6 send checksummed PATCHes), for --rounds N rounds (default 100; the test
# suite runs 20). Needs a build
# (tools/build.sh release). Loopback only; stops by itself.
# Usage: tests/fault/campaign.sh [--rounds N] [--build DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=100; build=build
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    *) echo "usage: tests/fault/campaign.sh [--rounds N] [--build DIR]" >&2; exit 2 ;;
  esac
done
RINGEST_CAMPAIGN_ROUNDS=$rounds "$build/bin/ringest_fault_tests" \
  --gtest_filter='CrashCampaign.*:ChecksumCrashCampaign.*:PowerLoss.*:VanishingClients.*'
