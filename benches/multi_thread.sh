#!/usr/bin/env bash
# Multi-thread benchmark: weft's multi-thread runtime (with one SO_REUSEPORT listener per worker,
# and with one shared listener: WEFT_LISTENERS=shared) against tokio's, all with the same
# number of workers, on echo (echo_load: 100 connections, 64-byte ping-pong) and HTTP (wrk: one
# thread, 100 connections, --latency).
#
# usage: bash benches/multi_thread.sh [rounds=5] [secs=5] [threads=2]
#
# With 2 workers on a 2-core machine nothing can be pinned apart: server and client share all
# CPUs. Rounds alternate which server goes first. Reports the median throughput and p99 latency
# of each server and the median of the per-round ratios weft/tokio, in
# benches/results/multi_thread-DATE.md.

set -uo pipefail

ROUNDS=${1:-5}
SECS=${2:-5}
THREADS=${3:-2}
if ! [[ $ROUNDS =~ ^[1-9][0-9]*$ && $SECS =~ ^[1-9][0-9]*$ && $THREADS =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: bash benches/multi_thread.sh [rounds=5] [secs=5] [threads=2]" >&2
    exit 2
fi
for tool in cargo python3 wrk taskset; do
    command -v "$tool" >/dev/null || { echo "multi_thread.sh: \`$tool\` is required" >&2; exit 2; }
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 2
# shellcheck source=benches/lib.sh
source benches/lib.sh
WORK=$(mktemp -d "${TMPDIR:-/tmp}/weft-mt.XXXXXX")
PIDS=()
trap 'stop "${PIDS[@]}"; rm -rf "$WORK"' EXIT
ALL_CPUS="0-$(($(nproc) - 1))"

echo "== building (release)"
bench_build multi_thread.sh
[[ $WEFT_BUILD == ok ]] || exit 1

server_bin() { # SERVER BENCH
    case "$1/$2" in
        weft*/echo) echo "$BIN/examples/echo" ;;
        weft*/http) echo "$BIN/examples/hello_server" ;;
        tokio/echo) echo "$BIN/tokio_echo" ;;
        tokio/http) echo "$BIN/tokio_hello" ;;
    esac
}

# run_one SERVER BENCH: prints "RATE P99_US"
run_one() {
    local server=$1 bench=$2 port pid
    port=$(free_port)
    local listeners=per-worker
    [[ $server == weft-shared ]] && listeners=shared
    WEFT_LISTENERS=$listeners "$(server_bin "$server" "$bench")" --addr "127.0.0.1:$port" --threads "$THREADS" \
        >/dev/null 2>"$WORK/server.err" &
    pid=$!
    PIDS+=("$pid")
    if ! wait_port "$port" "$pid"; then
        echo "multi_thread.sh: the $server $bench server did not start: $(cat "$WORK/server.err")" >&2
        exit 1
    fi
    run_client "$bench" 100 "$port" "$SECS" 1 "$ALL_CPUS" "$WORK/client.out"
    stop "$pid"
    read -r rate _ errors _ p99 _ < <(parse_client "$bench" "$WORK/client.out")
    if [[ $errors != 0 ]]; then
        echo "multi_thread.sh: $server $bench: $errors errors" >&2
        cat "$WORK/client.out" >&2
        exit 1
    fi
    echo "$rate $p99"
}

: >"$WORK/rows"
for ((round = 1; round <= ROUNDS; round++)); do
    for bench in echo http; do
        if ((round % 2)); then order=(weft weft-shared tokio); else order=(tokio weft-shared weft); fi
        for server in "${order[@]}"; do
            result=$(run_one "$server" "$bench") || exit 1
            echo "round $round $bench $server: $result"
            echo "$round $bench $server $result" >>"$WORK/rows"
        done
    done
done

REPORT=benches/results/multi_thread-$(date +%F).md
python3 - "$WORK/rows" "$ROUNDS" "$SECS" "$THREADS" "$(cpu_model)" "$(uname -r)" >"$REPORT" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
rounds, secs, threads, cpu, kernel = sys.argv[2:7]
data = {}
for rnd, bench, server, rate, p99 in rows:
    data.setdefault((bench, server), {})[int(rnd)] = (float(rate), float(p99))
print(f"# Multi-thread benchmark: weft vs tokio, {threads} workers each\n")
print(f"Machine: {cpu}, kernel {kernel}; release build; server and client unpinned (they "
      f"share every CPU); {rounds} rounds of {secs} s, alternating which server goes first.\n")
print("| load | server | throughput | vs tokio (median of per-round ratios) | p99 |")
print("|---|---|---:|---:|---:|")
names = {"weft": "weft, a reuseport listener per worker", "weft-shared": "weft, one shared listener",
         "tokio": "tokio multi_thread"}
for bench, unit, name in (("echo", "msgs/s", "echo, 100 conns, 64 B"),
                          ("http", "req/s", "HTTP, wrk -t1 -c100")):
    t = data[(bench, "tokio")]
    for server in ("weft", "weft-shared", "tokio"):
        d = data[(bench, server)]
        ratio = statistics.median(d[r][0] / t[r][0] for r in d if r in t)
        med = lambda i: statistics.median(v[i] for v in d.values())
        print(f"| {name} | {names[server]} | {med(0):,.0f} {unit} | {ratio:.3f} | "
              f"{med(1):,.0f} µs |")
print(f"\nCommand: `bash benches/multi_thread.sh {rounds} {secs} {threads}`")
PY
cat "$REPORT"
