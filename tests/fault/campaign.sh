#!/usr/bin/env bash
# The long crash campaigns: SIGKILL ringestd at random moments while 8 clients upload and
# resume (and while 6 send checksummed PATCHes), for --rounds N rounds (default 100; the test
# suite runs 20). With --hooks: the hook campaign instead (8 clients finish uploads while
# ringestd is killed; every finished upload's `finished` event must reach the receiver;
# default 200 rounds, the suite runs 30). Needs a build (tools/build.sh release). Loopback
# only; stops by itself.
# Usage: tests/fault/campaign.sh [--hooks] [--rounds N] [--build DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=; build=build; hooks=0
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --hooks) hooks=1; shift ;;
    *) echo "usage: tests/fault/campaign.sh [--hooks] [--rounds N] [--build DIR]" >&2; exit 2 ;;
  esac
done
if [ "$hooks" = 1 ]; then
  RINGEST_HOOK_ROUNDS=${rounds:-200} "$build/bin/ringest_fault_tests" \
    --gtest_filter='HookCampaign.*'
else
  RINGEST_CAMPAIGN_ROUNDS=${rounds:-100} "$build/bin/ringest_fault_tests" \
    --gtest_filter='CrashCampaign.*:ChecksumCrashCampaign.*:PowerLoss.*:VanishingClients.*'
fi
