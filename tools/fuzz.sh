#!/usr/bin/env bash
# Runs the libFuzzer targets of tests/fuzz.
#
#   tools/fuzz.sh [--runs N | --seconds S] [--build-dir DIR] [--no-build] [target...]
#
# Targets: http_parser tus_headers upload_record (default: all, one after the other; default
# budget --seconds 60 each). Builds build-fuzz first (tools/build.sh fuzz) unless --no-build.
# Each target starts from a scratch copy of tests/fuzz/corpus/<target>/, so inputs it finds never
# land in the source tree; a crashing input is kept in <build-dir>/fuzz-artifacts/<target>/ and
# the script exits 1 (replay it with build-fuzz/bin/<target>_fuzz <file>). Prints, per target,
# the executions run and what the corpus grew to.
set -euo pipefail

# Everything runs inside main, which bash reads whole before starting: a long run is not
# disturbed by an edit of this file.
main() {
  cd "$(dirname "$0")/.."
  root=$PWD

  usage() {
    echo "usage: tools/fuzz.sh [--runs N | --seconds S] [--build-dir DIR] [--no-build]" \
         "[target...]" >&2
    exit 2
  }

  all_targets=(http_parser tus_headers upload_record ietf_headers filepond_request)
  budget=(-max_total_time=60)
  build_dir=$root/build-fuzz
  build=1
  targets=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --runs) [ $# -ge 2 ] || usage; budget=(-runs="$2"); shift 2 ;;
      --seconds) [ $# -ge 2 ] || usage; budget=(-max_total_time="$2"); shift 2 ;;
      --build-dir) [ $# -ge 2 ] || usage; build_dir=$2; shift 2 ;;
      --no-build) build=0; shift ;;
      -h|--help) usage ;;
      -*) usage ;;
      *) targets+=("$1"); shift ;;
    esac
  done
  [ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
  for t in "${targets[@]}"; do
    if [ ! -d "tests/fuzz/corpus/$t" ]; then
      echo "fuzz: unknown target '$t' (${all_targets[*]})" >&2
      exit 2
    fi
  done

  if [ "$build" = 1 ]; then
    bash tools/build.sh fuzz
  fi

  work=$(mktemp -d "${TMPDIR:-/tmp}/ringest-fuzz.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  # Leaks are bugs too; a UBSan report stops the run like a crash.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

  status=0
  summary=()
  for t in "${targets[@]}"; do
    bin=$build_dir/bin/${t}_fuzz
    [ -x "$bin" ] || { echo "fuzz: $bin is missing (tools/build.sh fuzz)" >&2; exit 1; }
    mkdir -p "$work/$t" "$build_dir/fuzz-artifacts/$t"
    cp -R "tests/fuzz/corpus/$t" "$work/$t/corpus"
    seeds=$(find "$work/$t/corpus" -type f | wc -l)
    echo "== fuzz $t (${budget[*]}, $seeds seeds)"
    rc=0
    started=$(date +%s.%N)
    # -timeout: an input that takes 10 s is a hang; -max_len covers the largest seed (a record
    # image is about 1.1 KiB) with room to grow.
    "$bin" "${budget[@]}" -timeout=10 -max_len=8192 -print_final_stats=1 \
      -artifact_prefix="$build_dir/fuzz-artifacts/$t/" "$work/$t/corpus" >"$work/$t/log" 2>&1 \
      || rc=$?
    seconds=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t/log" | tail -1)
    corpus=$(find "$work/$t/corpus" -type f | wc -l)
    if [ "$rc" -ne 0 ]; then
      status=1
      tail -n 60 "$work/$t/log"
      echo "fuzz $t: FAILED (exit $rc) after ${execs:-?} executions; input kept in" \
           "$build_dir/fuzz-artifacts/$t/"
      summary+=("$t: FAILED after ${execs:-?} executions")
    else
      summary+=("$t: ${execs:-?} executions in $seconds s, corpus $seeds -> $corpus inputs")
    fi
  done
  echo "== fuzz summary"
  printf '%s\n' "${summary[@]}"
  return $status
}

main "$@"
exit $?
