#!/usr/bin/env bash
# Multi-thread benchmark: weft's multi-thread runtime (with one SO_REUSEPORT listener per worker,
# and with one shared listener: WEFT_LISTENERS=shared) against tokio's, all with the same
# number of workers, on echo (echo_load: 100 connections, 64-byte ping-pong) and HTTP (wrk: one
# thread, 100 connections, --latency).
#
# usage: bash benches/multi_thread.sh [rounds=5] [secs=5] [threads=2]
#
# Environment (all optional):
#   CLIENTS=N          load generators: N echo_load processes / N wrk threads, 100 connections
#                      each (default 1); the p99 reported for echo is the worst client's
#   SERVER_CPUS=LIST   taskset CPU list for the servers (default: every CPU)
#   CLIENT_CPUS=LIST   taskset CPU list for the load (default: every CPU)
#   WEFT_BENCH_BIN=DIR prebuilt release binaries (DIR/examples/{echo,hello_server},
#                      DIR/{tokio_echo,tokio_hello,echo_load}): no cargo needed, e.g. on a
#                      machine lent for one scaling run
#   REPORT=PATH        where the report goes (default benches/results/multi_thread-DATE.md)
#   BENCHES=LIST       the loads to run, "echo http" by default
#
# With 2 workers on a 2-core machine nothing can be pinned apart: server and client share all
# CPUs. Rounds alternate which server goes first. Reports the median throughput, p99 latency
# and server CPU time per request (all the server's threads, from /proc/PID/stat over the
# measured seconds) of each server and, pairing each round's runs, the median of the per-round
# ratios weft/tokio of all three with a 90% bootstrap interval (benches/stats.py), and in how
# many rounds weft's p99 was the lower one. Where the machine's speed drifts (a shared VM), CPU
# per request rises as throughput falls, so both columns move together from round to round.

set -uo pipefail

ROUNDS=${1:-5}
SECS=${2:-5}
THREADS=${3:-2}
if ! [[ $ROUNDS =~ ^[1-9][0-9]*$ && $SECS =~ ^[1-9][0-9]*$ && $THREADS =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: bash benches/multi_thread.sh [rounds=5] [secs=5] [threads=2]" >&2
    exit 2
fi
CLIENTS=${CLIENTS:-1}
BENCHES=${BENCHES:-echo http}
[[ $CLIENTS =~ ^[1-9][0-9]*$ ]] || { echo "multi_thread.sh: CLIENTS must be a positive number" >&2; exit 2; }
NEEDED=(python3 wrk taskset)
[[ -n ${WEFT_BENCH_BIN:-} ]] || NEEDED+=(cargo)
for tool in "${NEEDED[@]}"; do
    command -v "$tool" >/dev/null || { echo "multi_thread.sh: \`$tool\` is required" >&2; exit 2; }
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 2
# shellcheck source=benches/lib.sh
source benches/lib.sh
check_benches multi_thread.sh
WORK=$(mktemp -d "${TMPDIR:-/tmp}/weft-mt.XXXXXX")
PIDS=()
trap 'stop "${PIDS[@]}"; rm -rf "$WORK"' EXIT
ALL_CPUS="0-$(($(nproc) - 1))"
SERVER_CPUS=${SERVER_CPUS:-$ALL_CPUS}
CLIENT_CPUS=${CLIENT_CPUS:-$ALL_CPUS}

if [[ -n ${WEFT_BENCH_BIN:-} ]]; then
    BIN=$WEFT_BENCH_BIN
    ECHO_LOAD=$BIN/echo_load
else
    echo "== building (release)"
    bench_build multi_thread.sh
    [[ $WEFT_BUILD == ok ]] || exit 1
fi

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
    WEFT_LISTENERS=$listeners taskset -c "$SERVER_CPUS" "$(server_bin "$server" "$bench")" \
        --addr "127.0.0.1:$port" --threads "$THREADS" >/dev/null 2>"$WORK/server.err" &
    pid=$!
    PIDS+=("$pid")
    if ! wait_port "$port" "$pid"; then
        echo "multi_thread.sh: the $server $bench server did not start: $(cat "$WORK/server.err")" >&2
        exit 1
    fi
    load "$bench" "$port" "$pid"
    stop "$pid"
    echo "$LOAD_RESULT"
}

# load BENCH PORT SERVER_PID: runs the clients; sets LOAD_RESULT="RATE P99_US CPU_US" (rates
# summed, worst p99, the server's CPU microseconds per request over the measured seconds)
load() {
    local bench=$1 port=$2 server=$3 i clients=() pids=() rate p99 errors total=0 worst=0
    local ticks_before ticks_after
    if [[ $bench == http ]]; then
        taskset -c "$CLIENT_CPUS" wrk -t"$CLIENTS" -c$((100 * CLIENTS)) -d1s \
            "http://127.0.0.1:$port/" >/dev/null 2>&1
        ticks_before=$(cpu_ticks "$server")
        taskset -c "$CLIENT_CPUS" wrk -t"$CLIENTS" -c$((100 * CLIENTS)) -d"${SECS}s" --latency \
            "http://127.0.0.1:$port/" >"$WORK/client.0" 2>&1
        clients=(0)
    else
        # echo_load measures after a 1 s warm-up of its own: sample the server's CPU time then
        (sleep 1 && cpu_ticks "$server" >"$WORK/ticks_before") &
        pids+=($!)
        for ((i = 0; i < CLIENTS; i++)); do
            run_client echo 100 "$port" "$SECS" 1 "$CLIENT_CPUS" "$WORK/client.$i" &
            pids+=($!)
            clients+=("$i")
        done
        wait "${pids[@]}" # not a bare `wait`: the server is a child too
        ticks_before=$(<"$WORK/ticks_before")
    fi
    ticks_after=$(cpu_ticks "$server")
    for i in "${clients[@]}"; do
        read -r rate _ errors _ p99 _ < <(parse_client "$bench" "$WORK/client.$i")
        if [[ $errors != 0 ]]; then
            echo "multi_thread.sh: $bench client $i: $errors errors" >&2
            cat "$WORK/client.$i" >&2
            exit 1
        fi
        total=$(python3 -c "print($total + $rate)")
        worst=$(python3 -c "print(max($worst, $p99))")
    done
    LOAD_RESULT="$total $worst $(python3 -c "print(round(($ticks_after - $ticks_before) \
        / $(getconf CLK_TCK) * 1e6 / ($total * $SECS), 3))")"
}

: >"$WORK/rows"
for ((round = 1; round <= ROUNDS; round++)); do
    for bench in $BENCHES; do
        if ((round % 2)); then order=(weft weft-shared tokio); else order=(tokio weft-shared weft); fi
        for server in "${order[@]}"; do
            result=$(run_one "$server" "$bench") || exit 1
            echo "round $round $bench $server: $result"
            echo "$round $bench $server $result" >>"$WORK/rows"
        done
    done
done

REPORT=${REPORT:-benches/results/multi_thread-$(date +%F).md}
PYTHONPATH="$ROOT/benches" python3 - "$WORK/rows" "$ROUNDS" "$SECS" "$THREADS" "$(cpu_model)" "$(uname -r)" "$(nproc)" \
    "$CLIENTS" "$SERVER_CPUS" "$CLIENT_CPUS" "$BENCHES" >"$REPORT" <<'PY'
import statistics, sys
from stats import median_interval, span
rows = [l.split() for l in open(sys.argv[1])]
rounds, secs, threads, cpu, kernel, ncpu, clients, server_cpus, client_cpus, benches = sys.argv[2:12]
data = {}
for rnd, bench, server, rate, p99, cpu_us in rows:
    data.setdefault((bench, server), {})[int(rnd)] = (float(rate), float(p99), float(cpu_us))
print(f"# Multi-thread benchmark: weft vs tokio, {threads} workers each\n")
print(f"Machine: {cpu} ({ncpu} CPUs), kernel {kernel}; release build; server on CPUs "
      f"{server_cpus}, load on CPUs {client_cpus}; {clients} load generator(s) of 100 "
      f"connections; {rounds} rounds of {secs} s, alternating which server goes first.\n")
print("| load | server | throughput | vs tokio (median of per-round ratios) | 90% interval | p99 | p99 vs tokio (median of per-round ratios) | 90% interval | rounds with the lower p99 | server CPU per request | vs tokio (median of per-round ratios) | 90% interval |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
names = {"weft": "weft, a reuseport listener per worker", "weft-shared": "weft, one shared listener",
         "tokio": "tokio multi_thread"}
conns = 100 * int(clients)
for bench, unit, name in (("echo", "msgs/s", f"echo, {conns} conns, 64 B"),
                          ("http", "req/s", f"HTTP, wrk -t{clients} -c{conns}")):
    if (bench, "tokio") not in data:
        continue
    t = data[(bench, "tokio")]
    for server in ("weft", "weft-shared", "tokio"):
        d = data[(bench, server)]
        paired = [r for r in d if r in t]
        ratios = [[d[r][i] / t[r][i] for r in paired] for i in range(3)]
        lower = "" if server == "tokio" else \
            f"{sum(d[r][1] < t[r][1] for r in paired)} of {len(paired)}"
        med = lambda i: statistics.median(v[i] for v in d.values())
        cells = [f"{statistics.median(ratios[i]):.3f} | "
                 + ("" if server == "tokio" else span(median_interval(ratios[i])))
                 for i in range(3)]
        print(f"| {name} | {names[server]} | {med(0):,.0f} {unit} | {cells[0]} | "
              f"{med(1):,.0f} µs | {cells[1]} | {lower} | {med(2):.2f} µs | {cells[2]} |")
env = "" if clients == "1" else f"CLIENTS={clients} "
if benches != "echo http":
    env += f'BENCHES="{benches}" '
if server_cpus != client_cpus or server_cpus != f"0-{int(ncpu) - 1}":
    env += f"SERVER_CPUS={server_cpus} CLIENT_CPUS={client_cpus} "
print(f"\nCommand: `{env}bash benches/multi_thread.sh {rounds} {secs} {threads}`")
print("\n## Every run\n")
print("| round | load | server | throughput | p99 | server CPU per request |")
print("|---:|---|---|---:|---:|---:|")
for rnd, bench, server, rate, p99, cpu_us in rows:
    print(f"| {rnd} | {bench} | {server} | {float(rate):,.0f} | {float(p99):,.0f} µs | {cpu_us} µs |")
PY
cat "$REPORT"
