#!/usr/bin/env bash
# Multi-thread benchmark: weft's multi-thread runtime against tokio's, both with the same
# number of workers, on echo (echo_load: 100 connections, 64-byte ping-pong) and HTTP (wrk: one
# thread, 100 connections, --latency).
#
# usage: bash benches/multi_thread.sh [rounds=5] [secs=5] [threads=2]
#
# With 2 workers on a 2-core machine nothing is pinned: server and client share both cores.
# Rounds alternate which server goes first. Reports the median throughput and p99 latency of
# each server and the per-round ratios weft/tokio, in benches/results/multi_thread-DATE.md.

set -uo pipefail

ROUNDS=${1:-5}
SECS=${2:-5}
THREADS=${3:-2}
if ! [[ $ROUNDS =~ ^[1-9][0-9]*$ && $SECS =~ ^[1-9][0-9]*$ && $THREADS =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: bash benches/multi_thread.sh [rounds=5] [secs=5] [threads=2]" >&2
    exit 2
fi
for tool in cargo python3 wrk; do
    command -v "$tool" >/dev/null || { echo "multi_thread.sh: \`$tool\` is required" >&2; exit 2; }
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 2
# shellcheck source=benches/lib.sh
source benches/lib.sh
WORK=$(mktemp -d "${TMPDIR:-/tmp}/weft-mt.XXXXXX")
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "== building (release)"
cargo build --release --quiet --example echo --example hello_server || exit 1
cargo build --release --quiet -p weft-benches --bin tokio_echo --bin tokio_hello --bin echo_load || exit 1
BIN=target/release

server_bin() { # SERVER LOAD
    case "$1/$2" in
        weft/echo) echo "$BIN/examples/echo" ;;
        weft/http) echo "$BIN/examples/hello_server" ;;
        tokio/echo) echo "$BIN/tokio_echo" ;;
        tokio/http) echo "$BIN/tokio_hello" ;;
    esac
}

# run_one SERVER LOAD -> prints "<throughput> <p99 in µs>"
run_one() {
    local server=$1 load=$2 port pid out
    port=$(free_port)
    "$(server_bin "$server" "$load")" --addr "127.0.0.1:$port" --threads "$THREADS" >/dev/null 2>"$WORK/server.err" &
    pid=$!
    PIDS+=("$pid")
    if ! wait_port "$port" "$pid"; then
        echo "multi_thread.sh: $server $load server did not start: $(cat "$WORK/server.err")" >&2
        exit 1
    fi
    if [[ $load == echo ]]; then
        out=$("$BIN/echo_load" --addr "127.0.0.1:$port" --conns 100 --size 64 --duration "$SECS" --warmup 1)
        python3 - "$out" <<'PY'
import sys
f = dict(kv.split("=", 1) for kv in sys.argv[1].split())
assert f["errors"] == "0", sys.argv[1]
print(f["msgs_per_sec"], f["p99_us"])
PY
    else
        wrk -t1 -c100 -d1s "http://127.0.0.1:$port/" >/dev/null
        out=$(wrk -t1 -c100 -d"${SECS}s" --latency "http://127.0.0.1:$port/")
        python3 - "$out" <<'PY'
import re, sys
text = sys.argv[1]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
m = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", text)
p99 = float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(2)]
bad = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", text)
assert not bad, bad.group(0)
print(rps, p99)
PY
    fi
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
}

: >"$WORK/rows"
for ((round = 1; round <= ROUNDS; round++)); do
    for load in echo http; do
        if ((round % 2)); then order=(weft tokio); else order=(tokio weft); fi
        for server in "${order[@]}"; do
            result=$(run_one "$server" "$load") || exit 1
            echo "round $round $load $server: $result"
            echo "$round $load $server $result" >>"$WORK/rows"
        done
    done
done

DATE=$(date +%F)
REPORT=benches/results/multi_thread-$DATE.md
python3 - "$WORK/rows" "$ROUNDS" "$SECS" "$THREADS" "$(nproc)" "$(uname -r)" >"$REPORT" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
rounds, secs, threads, cpus, kernel = sys.argv[2:7]
data = {}
for rnd, load, server, tput, p99 in rows:
    data.setdefault((load, server), {})[int(rnd)] = (float(tput), float(p99))
print(f"# Multi-thread benchmark: weft vs tokio, {threads} workers each\n")
print(f"Machine: {cpus} CPUs, kernel {kernel}; release build; server and client unpinned "
      f"(they share the cores); {rounds} rounds of {secs} s, alternating order.\n")
print("| load | weft | tokio | weft/tokio throughput (median of rounds) | weft p99 | tokio p99 |")
print("|---|---|---|---|---|---|")
for load, unit in (("echo", "msgs/s"), ("http", "req/s")):
    w, t = data[(load, "weft")], data[(load, "tokio")]
    ratios = [w[r][0] / t[r][0] for r in w if r in t]
    med = lambda d, i: statistics.median(v[i] for v in d.values())
    name = "echo, 100 conns, 64 B" if load == "echo" else "HTTP, wrk -t1 -c100"
    print(f"| {name} | {med(w,0):,.0f} {unit} | {med(t,0):,.0f} {unit} | "
          f"{statistics.median(ratios):.3f} | {med(w,1):,.0f} µs | {med(t,1):,.0f} µs |")
print(f"\nCommand: `bash benches/multi_thread.sh {rounds} {secs} {threads}`")
PY
cat "$REPORT"
