#!/usr/bin/env bash
# Foundation benchmark: weft against tokio and a hand-written epoll loop.
#
# usage: bash benches/foundation.sh [rounds=5] [secs=10]
#        REPORT=PATH     writes the report there instead of benches/results/foundation-DATE.md
#        BENCHES=LIST    the loads to run, "echo http" by default ("http" alone for a long
#                        HTTP-only run)
#        CALLGRIND=0     skips the instruction counts (step 3)
#
#   1. builds the weft example servers (echo, hello_server) and the weft-benches binaries;
#   2. throughput: for every round, every server in rotating order, server pinned to CPU 0 and
#      client to CPU 1: echo via echo_load (100 connections, 64-byte ping-pong, first second not
#      counted), HTTP via wrk (1 thread, 100 connections, after a 1 s wrk warm-up);
#      each throughput ratio is the median of the per-round ratios, with a 90% bootstrap
#      interval of that median (benches/stats.py): with rounds this noisy (+-10% each), the
#      interval says whether a bar is met, missed or not yet told apart;
#   3. instructions per request: each server under callgrind, warmed up for 2 s, counters zeroed,
#      measured load for 5 s, counters dumped; total Ir divided by completed requests;
#   4. writes a markdown report to benches/results/foundation-DATE.md and prints it.
#
# A server whose binary is missing (the weft examples, while they are being written) is reported
# as "not built" and skipped.

set -uo pipefail

ROUNDS=${1:-5}
SECS=${2:-10}
CG_WARMUP=2   # seconds of load before the callgrind counters are zeroed
CG_SECS=5     # seconds of measured load under callgrind
SERVER_CPU=0
CLIENT_CPU=1
CONNS=100
SIZE=64

BENCHES=${BENCHES:-echo http}
CALLGRIND=${CALLGRIND:-1}

if ! [[ $ROUNDS =~ ^[1-9][0-9]*$ && $SECS =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: bash benches/foundation.sh [rounds=5] [secs=10]" >&2
    exit 2
fi
[[ $CALLGRIND == 0 || $CALLGRIND == 1 ]] || {
    echo "foundation.sh: CALLGRIND=\"$CALLGRIND\": expected 0 or 1" >&2
    exit 2
}
TOOLS=(cargo python3 taskset wrk)
((CALLGRIND)) && TOOLS+=(valgrind callgrind_control)
for tool in "${TOOLS[@]}"; do
    command -v "$tool" >/dev/null || { echo "foundation.sh: \`$tool\` is required" >&2; exit 2; }
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 2
# free_port, wait_port, stop, bench_build, run_client, parse_client, callgrind_*, check_benches.
source "$ROOT/benches/lib.sh"
check_benches foundation.sh
WORK=$(mktemp -d "${TMPDIR:-/tmp}/weft-foundation.XXXXXX")

# Every process started in the background is listed here and killed on exit.
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "[foundation] $*" >&2; }

# ---------------------------------------------------------------------------------------------
# Build

log "building (release)"
bench_build foundation

SERVERS=(weft tokio raw)
declare -A BINARY=(
    [echo:weft]=$BIN/examples/echo [http:weft]=$BIN/examples/hello_server
    [echo:tokio]=$BIN/tokio_echo [http:tokio]=$BIN/tokio_hello
    [echo:raw]=$BIN/raw_echo [http:raw]=$BIN/raw_hello
)
# The weft binaries count only if this build produced them: a stale binary would mislead.
for bench in echo http; do
    bin=${BINARY[$bench:weft]}
    if [[ $WEFT_BUILD != ok || ! -x $bin ]]; then
        log "weft: not built ($bin)"
        BINARY[$bench:weft]=""
    fi
done

# client BENCH PORT SECS WARMUP OUTFILE: the pinned load generator; output in OUTFILE.
client() {
    run_client "$1" $CONNS "$2" "$3" "$4" $CLIENT_CPU "$5"
}

# ---------------------------------------------------------------------------------------------
# Throughput

THROUGHPUT=$WORK/throughput.tsv
: >"$THROUGHPUT"
for ((round = 1; round <= ROUNDS; round++)); do
    # Rotate the order every round so drift in the machine's speed does not favour one server.
    order=()
    for ((i = 0; i < ${#SERVERS[@]}; i++)); do
        order+=("${SERVERS[(i + round - 1) % ${#SERVERS[@]}]}")
    done
    for bench in $BENCHES; do
        for server in "${order[@]}"; do
            bin=${BINARY[$bench:$server]}
            [[ -n $bin ]] || continue
            port=$(free_port)
            taskset -c $SERVER_CPU "$bin" --addr "127.0.0.1:$port" --threads 1 \
                >"$WORK/server.log" 2>&1 &
            pid=$!
            PIDS+=("$pid")
            if ! wait_port "$port" "$pid" 10; then
                log "round $round $bench $server: server did not start"
                sed 's/^/    /' "$WORK/server.log" >&2
                printf '%s\t%s\t%s\tNA\tNA\n' "$bench" "$round" "$server" >>"$THROUGHPUT"
                stop "$pid"
                continue
            fi
            out=$WORK/throughput-$bench-$server-$round.txt
            client "$bench" "$port" "$SECS" 1 "$out"
            read -r rate _ errors _ < <(parse_client "$bench" "$out")
            stop "$pid"
            log "round $round $bench $server: $rate/s, errors $errors"
            [[ $rate == NA ]] && sed 's/^/    /' "$out" >&2
            printf '%s\t%s\t%s\t%s\t%s\n' "$bench" "$round" "$server" "$rate" "$errors" >>"$THROUGHPUT"
        done
    done
done

# ---------------------------------------------------------------------------------------------
# Instructions per request (callgrind)

INSTR=$WORK/instructions.tsv
: >"$INSTR"
COUNTED=$BENCHES
((CALLGRIND)) || COUNTED=""
for bench in $COUNTED; do
    for server in "${SERVERS[@]}"; do
        bin=${BINARY[$bench:$server]}
        [[ -n $bin ]] || continue
        dir=$WORK/cg-$bench-$server
        port=$(free_port)
        if ! callgrind_start "$bin" "$port" "$dir" $SERVER_CPU; then
            log "callgrind $bench $server: server did not start"
            continue
        fi
        client "$bench" "$port" $CG_WARMUP 0 "$dir/warmup.txt"
        callgrind_zero "$CG_PID"
        client "$bench" "$port" $CG_SECS 0 "$dir/measured.txt"
        ir=$(callgrind_dump "$dir" "$CG_PID")
        stop "$CG_PID" "$CG_WRAPPER"
        read -r _ completed errors _ < <(parse_client "$bench" "$dir/measured.txt")
        log "callgrind $bench $server: Ir $ir, completed $completed, errors $errors"
        printf '%s\t%s\t%s\t%s\t%s\n' "$bench" "$server" "$ir" "$completed" "$errors" >>"$INSTR"
    done
done

# ---------------------------------------------------------------------------------------------
# Report

mkdir -p benches/results
REPORT=${REPORT:-benches/results/foundation-$(date +%F).md}
DATE=$(date '+%F %T %z') NPROC=$(nproc) KERNEL=$(uname -r) CPU=$(cpu_model) RUSTC=$(rustc -V) \
    COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown) PROFILE=$(release_profile) \
    ROUNDS=$ROUNDS SECS=$SECS CG_WARMUP=$CG_WARMUP CG_SECS=$CG_SECS CONNS=$CONNS SIZE=$SIZE \
    SERVER_CPU=$SERVER_CPU CLIENT_CPU=$CLIENT_CPU WEFT_BUILD=$WEFT_BUILD \
    BENCHES=$BENCHES CALLGRIND=$CALLGRIND \
    WEFT_ECHO=${BINARY[echo:weft]} WEFT_HTTP=${BINARY[http:weft]} \
    PYTHONPATH="$ROOT/benches" python3 - "$THROUGHPUT" "$INSTR" >"$REPORT" <<'PY'
import os, statistics, sys
from stats import median_interval, span

env = os.environ
servers = ["weft", "tokio", "raw"]
benches = {"echo": ("Echo", "messages/s"), "http": ("HTTP hello", "requests/s")}
benches = {b: t for b, t in benches.items() if b in env["BENCHES"].split()}

rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1]) if line.strip()]
results = {}   # (bench, server) -> {round: (rate, errors)}
for bench, rnd, server, rate, errors in rows:
    results.setdefault((bench, server), {})[int(rnd)] = (
        None if rate == "NA" else float(rate),
        None if errors == "NA" else int(errors),
    )

def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None

def num(v, digits=0):
    return "n/a" if v is None else f"{v:,.{digits}f}"

def ratio(a, b):
    return None if a is None or b in (None, 0) else a / b

rounds = int(env["ROUNDS"])
out = []
w = out.append
w(f"# Foundation benchmark — {env['DATE']}\n")
w("weft against tokio and a hand-written single-threaded epoll loop (`raw`), same HTTP handler "
  "(`examples/support/http.rs`) and the same command line for every server.\n")
w("## Machine\n")
w(f"- CPUs (`nproc`): {env['NPROC']}")
w(f"- CPU model: {env['CPU']}")
w(f"- kernel (`uname -r`): {env['KERNEL']}")
w(f"- compiler: {env['RUSTC']}")
w(f"- build profile: release (`{env['PROFILE']}`)")
w(f"- commit: {env['COMMIT']} (working tree may differ)")
w(f"- pinning: every server runs `--threads 1` on CPU {env['SERVER_CPU']} (`taskset -c "
  f"{env['SERVER_CPU']}`), the load generator on CPU {env['CLIENT_CPU']} (`taskset -c "
  f"{env['CLIENT_CPU']}`)")
missing = [b for b, k in (("echo", "WEFT_ECHO"), ("hello_server", "WEFT_HTTP")) if not env[k]]
if missing:
    w(f"- **weft: not built** ({', '.join(missing)}; cargo build: {env['WEFT_BUILD']})")
w("")

w("## Commands\n")
w("```")
w("cargo build --release -p weft-benches")
w("cargo build --release --examples -p weft")
w(f"taskset -c {env['SERVER_CPU']} SERVER --addr 127.0.0.1:PORT --threads 1")
w(f"  SERVER: echo = target/release/examples/echo | tokio_echo | raw_echo;"
  f" http = target/release/examples/hello_server | tokio_hello | raw_hello")
w(f"taskset -c {env['CLIENT_CPU']} echo_load --addr 127.0.0.1:PORT --conns {env['CONNS']} "
  f"--size {env['SIZE']} --duration {env['SECS']} --warmup 1")
w(f"taskset -c {env['CLIENT_CPU']} wrk -t1 -c{env['CONNS']} -d1s http://127.0.0.1:PORT/   # warm-up, dropped")
w(f"taskset -c {env['CLIENT_CPU']} wrk -t1 -c{env['CONNS']} -d{env['SECS']}s --latency http://127.0.0.1:PORT/")
w(f"taskset -c {env['SERVER_CPU']} valgrind --tool=callgrind --callgrind-out-file=TMP/cg.%p "
  f"SERVER --addr 127.0.0.1:PORT --threads 1")
w(f"  load for {env['CG_WARMUP']} s; callgrind_control -z PID; load for {env['CG_SECS']} s "
  f"(echo_load --warmup 0 / wrk); callgrind_control -d PID")
w("```\n")
w(f"{rounds} round(s) of {env['SECS']} s per server and protocol; the server order rotates "
  "every round (weft, tokio, raw; then tokio, raw, weft; ...). Every run uses a fresh server "
  "on a fresh port.\n")

w("## Throughput\n")
for bench, (title, unit) in benches.items():
    w(f"### {title} ({unit})\n")
    header = "| server | " + " | ".join(f"round {r}" for r in range(1, rounds + 1)) + " | median | errors |"
    w(header)
    w("|" + "---|" * (rounds + 3))
    for s in servers:
        per = results.get((bench, s))
        if per is None:
            w(f"| {s} | " + " | ".join("—" for _ in range(rounds)) + " | not built | — |")
            continue
        rates = [per.get(r, (None, None))[0] for r in range(1, rounds + 1)]
        errors = [per.get(r, (None, None))[1] for r in range(1, rounds + 1)]
        total_errors = sum(e for e in errors if e is not None)
        w(f"| {s} | " + " | ".join(num(v) for v in rates) + f" | **{num(median(rates))}** | {total_errors} |")
    w("")
    w("| ratio | " + " | ".join(f"round {r}" for r in range(1, rounds + 1))
      + " | median | 90% interval |")
    w("|" + "---|" * (rounds + 3))
    for a, b in (("weft", "tokio"), ("weft", "raw"), ("tokio", "raw")):
        pa, pb = results.get((bench, a), {}), results.get((bench, b), {})
        rs = [ratio(pa.get(r, (None,))[0], pb.get(r, (None,))[0]) for r in range(1, rounds + 1)]
        w(f"| {a}/{b} | " + " | ".join(num(v, 3) for v in rs)
          + f" | **{num(median(rs), 3)}** | {span(median_interval(rs))} |")
    w("")

w("The interval is a bootstrap of the median over the rounds (4,000 resamples): a bar is met "
  "when the whole interval lies above it, missed when it lies below, and not yet told apart "
  "when it straddles it.\n")

if env["CALLGRIND"] == "0":
    print("\n".join(out))
    sys.exit(0)
w("## Instructions per request (callgrind)\n")
w("Instructions (Ir) the server process executed in user space while the measured load ran, "
  "divided by the requests the client completed in that time. Kernel work (syscalls, TCP) is not "
  "counted.\n")
instr = {}
for line in open(sys.argv[2]):
    if line.strip():
        bench, server, ir, done, errors = line.rstrip("\n").split("\t")
        instr[(bench, server)] = (
            None if ir == "NA" else int(ir),
            None if done == "NA" else int(done),
            errors,
        )
w("| protocol | server | total Ir | completed | errors | instructions/request |")
w("|---|---|---|---|---|---|")
per_request = {}
for bench, (title, _) in benches.items():
    for s in servers:
        if (bench, s) not in instr:
            w(f"| {title} | {s} | — | — | — | not built |")
            continue
        ir, done, errors = instr[(bench, s)]
        value = None if ir is None or not done else ir / done
        per_request[(bench, s)] = value
        w(f"| {title} | {s} | {num(ir)} | {num(done)} | {errors} | **{num(value)}** |")
w("")
for bench, (title, _) in benches.items():
    parts = []
    for a, b in (("weft", "tokio"), ("weft", "raw"), ("tokio", "raw")):
        parts.append(f"{a}/{b} = {num(ratio(per_request.get((bench, a)), per_request.get((bench, b))), 2)}")
    w(f"- {title}: " + ", ".join(parts))
w("")
print("\n".join(out))
PY
status=$?
if ((status != 0)); then
    echo "foundation.sh: writing the report failed" >&2
    exit 1
fi
cat "$REPORT"
log "report written to $REPORT"
