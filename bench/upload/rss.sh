#!/usr/bin/env bash
# Peak memory of ringestd while N clients upload SIZE each at once (tus: POST, then one PATCH
# streamed from a file by curl). Reports, per run: wall time, aggregate MB/s, server CPU
# seconds, server peak RSS (VmHWM from /proc), and whether every stored file's SHA-256 matches.
# Usage: bench/upload/rss.sh [--uploads N] [--bytes SIZE_MiB] [--runs R] [--binary PATH]
# Loopback only; bounded: every curl has --max-time.
set -euo pipefail
cd "$(dirname "$0")/../.."
uploads=4; mib=1024; runs=3; binary=build/bin/ringestd; extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --uploads) uploads=$2; shift 2 ;;
    --bytes) mib=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --binary) binary=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
work=$(mktemp -d "${TMPDIR:-/tmp}/ringest-rss-XXXXXX")
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill -KILL "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
bytes=$((mib * 1024 * 1024))
head -c "$bytes" /dev/urandom > "$work/source"
want=$(sha256sum "$work/source" | cut -d' ' -f1)

echo "| run | uploads | MiB each | wall s | aggregate MB/s | server CPU s | CPU s/GiB | peak RSS MiB | SHA-256 ok |"
echo "|---|---|---|---|---|---|---|---|---|"
for run in $(seq 1 "$runs"); do
  rm -rf "$work/data"
  "$binary" --listen 127.0.0.1:0 --data-dir "$work/data" "${extra[@]}" > "$work/out" 2> "$work/err" &
  server_pid=$!
  for _ in $(seq 1 200); do grep -q listening "$work/out" 2>/dev/null && break; sleep 0.05; done
  url=$(head -1 "$work/out" | sed 's/^listening on //')
  locations=()
  for i in $(seq 1 "$uploads"); do
    loc=$(curl -s -D - -o /dev/null -X POST -H "Tus-Resumable: 1.0.0" -H "Upload-Length: $bytes" \
          "$url/files/" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
    locations+=("$loc")
  done
  ticks=$(getconf CLK_TCK)
  cpu_before=$(awk '{print $14 + $15}' "/proc/$server_pid/stat")
  start=$(date +%s.%N)
  pids=()
  for loc in "${locations[@]}"; do
    curl -s -o /dev/null --max-time 600 -X PATCH -H "Tus-Resumable: 1.0.0" \
      -H "Upload-Offset: 0" -H "Content-Type: application/offset+octet-stream" \
      -H "Expect:" -T "$work/source" "$url$loc" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  end=$(date +%s.%N)
  cpu_after=$(awk '{print $14 + $15}' "/proc/$server_pid/stat")
  hwm_kib=$(awk '/VmHWM/ {print $2}' "/proc/$server_pid/status")
  kill -TERM "$server_pid"; wait "$server_pid" || true; server_pid=""
  ok=yes
  for loc in "${locations[@]}"; do
    got=$(sha256sum "$work/data/uploads/${loc##*/}.bin" | cut -d' ' -f1)
    [ "$got" = "$want" ] || ok=NO
  done
  awk -v r="$run" -v n="$uploads" -v m="$mib" -v s="$start" -v e="$end" -v c0="$cpu_before" \
      -v c1="$cpu_after" -v t="$ticks" -v h="$hwm_kib" -v ok="$ok" 'BEGIN {
    wall = e - s; cpu = (c1 - c0) / t; gib = n * m / 1024;
    printf "| %d | %d | %d | %.2f | %.0f | %.2f | %.2f | %.1f | %s |\n",
      r, n, m, wall, n * m * 1048576 / wall / 1e6, cpu, cpu / gib, h / 1024, ok }'
done
