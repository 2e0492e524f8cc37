#!/usr/bin/env bash
# The network matrix: weft (async and coroutines) against tokio, may and a hand-written epoll
# loop, at several connection counts, in one command.
#
# usage: bash benches/matrix.sh [rounds=3] [secs=5]
#
#   1. builds everything once, in release: the weft example servers (echo, hello_server,
#      echo_coro, hello_server_coro) and the weft-benches binaries;
#   2. throughput: R rounds; in each, every load (echo_load 64-byte ping-pong over 100 / 1,000 /
#      10,000 connections; wrk -t1 over 100 / 1,000 connections) against every server in an
#      order that rotates from round to round; a fresh server per run, `--threads 1`, pinned to
#      CPU 0; the client pinned to CPU 1; the first second of load is a warm-up, not counted;
#   3. memory: every server with 10,000 idle connections (echo_load --idle), RSS per connection;
#   4. instructions: every server under callgrind, 100 connections, counters zeroed after a 2 s
#      warm-up, dumped after 3 s of measured load; Ir ÷ completed messages or requests;
#   5. cpu_stall: `cargo run --release --example cpu_stall`;
#   6. writes benches/results/matrix-DATE.md, matrix-DATE-throughput.svg and matrix-DATE-rss.svg
#      (matrix_report);
#   7. appends the micro benchmarks to the report (`micro`: weft vs tokio; `coro_micro`: weft
#      coroutines vs may, each pinned to CPU 0), and prints it.
#
# A server whose binary does not exist is shown as "not built" and skipped; adding one is one
# line in SERVERS / BINARY below.
#
# Time with the defaults on a 2-core machine: 8 min 38 s with four servers and a warm build (a
# throughput run is ~7.2 s); the fifth (weft coroutines) adds ~2.5 min, a cold build a few more.
# `bash benches/matrix.sh 3 4` saves ~75 s; `bash benches/matrix.sh 1 3` (a smoke run of all
# five servers) took 5 min 34 s, 2 min 18 s of it building.

set -uo pipefail

ROUNDS=${1:-3}
SECS=${2:-5}
WARMUP=1
ECHO_CONNS=(100 1000 10000)
HTTP_CONNS=(100 1000)
IDLE_CONNS=10000
CG_CONNS=100
CG_WARMUP=2
CG_SECS=3
SERVER_CPU=0
CLIENT_CPU=1

if ! [[ $ROUNDS =~ ^[1-9][0-9]*$ && $SECS =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: bash benches/matrix.sh [rounds=3] [secs=5]" >&2
    exit 2
fi
for tool in cargo python3 taskset wrk valgrind callgrind_control; do
    command -v "$tool" >/dev/null || { echo "matrix.sh: \`$tool\` is required" >&2; exit 2; }
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 2
WORK=$(mktemp -d "${TMPDIR:-/tmp}/weft-matrix.XXXXXX")
# free_port, wait_port, stop, bench_build, run_client, parse_client, callgrind_*.
source "$ROOT/benches/lib.sh"
# 10,000 connections: servers and clients inherit the raised limit.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if (($(ulimit -n) < IDLE_CONNS + 100)); then
    echo "matrix.sh: 10,000 connections need a descriptor limit above $((IDLE_CONNS + 100));" \
        "ulimit -Hn is $(ulimit -Hn)" >&2
    exit 2
fi

PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "[matrix $((SECONDS / 60))m$((SECONDS % 60))s] $*" >&2; }

# ---------------------------------------------------------------------------------------------
# Build

log "building (release)"
bench_build matrix
LOAD_START=$(cut -d' ' -f1 /proc/loadavg)

SERVERS=(weft weft-coro tokio may raw)
declare -A LABEL=(
    [weft]="weft async" [weft-coro]="weft coroutines" [tokio]=tokio [may]=may [raw]="raw epoll"
)
declare -A BINARY=(
    [echo:weft]=$BIN/examples/echo [http:weft]=$BIN/examples/hello_server
    [echo:weft-coro]=$BIN/examples/echo_coro [http:weft-coro]=$BIN/examples/hello_server_coro
    [echo:tokio]=$BIN/tokio_echo [http:tokio]=$BIN/tokio_hello
    [echo:may]=$BIN/may_echo [http:may]=$BIN/may_hello
    [echo:raw]=$BIN/raw_echo [http:raw]=$BIN/raw_hello
)
: >"$WORK/servers.tsv"
for server in "${SERVERS[@]}"; do
    for bench in echo http; do
        bin=${BINARY[$bench:$server]}
        # The weft binaries count only if this build produced them: a stale one would mislead.
        if [[ ! -x $bin || ($server == weft* && $WEFT_BUILD != ok) ]]; then
            log "$server $bench: not built (${bin#"$ROOT"/})"
            BINARY[$bench:$server]=""
        fi
    done
    echo_bin=${BINARY[echo:$server]:--} http_bin=${BINARY[http:$server]:--}
    printf '%s\t%s\t%s\t%s\n' "$server" "${LABEL[$server]}" "${echo_bin#"$ROOT"/}" \
        "${http_bin#"$ROOT"/}" >>"$WORK/servers.tsv"
done

# start_server BIN PORT LOG: starts BIN pinned to the server CPU; sets SERVER_PID; fails (with
# the log on stderr) if it does not listen within 10 s.
start_server() {
    taskset -c $SERVER_CPU "$1" --addr "127.0.0.1:$2" --threads 1 >"$3" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    if ! wait_port "$2" "$SERVER_PID" 10; then
        sed 's/^/    /' "$3" >&2
        stop "$SERVER_PID"
        return 1
    fi
}

# ---------------------------------------------------------------------------------------------
# Throughput

LOADS=()
for c in "${ECHO_CONNS[@]}"; do LOADS+=("echo:$c"); done
for c in "${HTTP_CONNS[@]}"; do LOADS+=("http:$c"); done

THROUGHPUT=$WORK/throughput.tsv
: >"$THROUGHPUT"
for ((round = 1; round <= ROUNDS; round++)); do
    # Rotate the order every round so drift in the machine's speed does not favour one server.
    order=()
    for ((i = 0; i < ${#SERVERS[@]}; i++)); do
        order+=("${SERVERS[(i + round - 1) % ${#SERVERS[@]}]}")
    done
    for load in "${LOADS[@]}"; do
        bench=${load%%:*} conns=${load#*:}
        for server in "${order[@]}"; do
            bin=${BINARY[$bench:$server]}
            [[ -n $bin ]] || continue
            port=$(free_port)
            if ! start_server "$bin" "$port" "$WORK/server.log"; then
                log "round $round $bench×$conns $server: server did not start"
                printf '%s\t%s\t%s\t%s\tNA\tNA\tNA\tNA\tNA\n' "$bench" "$conns" "$round" "$server" \
                    >>"$THROUGHPUT"
                continue
            fi
            out=$WORK/throughput-$bench-$conns-$server-$round.txt
            run_client "$bench" "$conns" "$port" "$SECS" $WARMUP $CLIENT_CPU "$out"
            read -r rate _ errors p50 p99 p999 < <(parse_client "$bench" "$out")
            stop "$SERVER_PID"
            log "round $round $bench×$conns $server: $rate/s, errors $errors, p99 ${p99} µs"
            [[ $rate == NA ]] && sed 's/^/    /' "$out" >&2
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$bench" "$conns" "$round" "$server" \
                "$rate" "$errors" "$p50" "$p99" "$p999" >>"$THROUGHPUT"
        done
    done
done

# ---------------------------------------------------------------------------------------------
# Memory per idle connection

RSS=$WORK/rss.tsv
: >"$RSS"
for bench in echo http; do
    for server in "${SERVERS[@]}"; do
        bin=${BINARY[$bench:$server]}
        [[ -n $bin ]] || continue
        port=$(free_port)
        if ! start_server "$bin" "$port" "$WORK/server.log"; then
            log "idle $bench $server: server did not start"
            continue
        fi
        out=$WORK/idle-$bench-$server.txt
        taskset -c $CLIENT_CPU "$ECHO_LOAD" --addr "127.0.0.1:$port" --conns $IDLE_CONNS --idle \
            --server-pid "$SERVER_PID" >"$out" 2>&1
        stop "$SERVER_PID"
        line=$(grep -m1 '^idle_conns=' "$out")
        if [[ -z $line ]]; then
            log "idle $bench $server: no result"
            sed 's/^/    /' "$out" >&2
            continue
        fi
        declare -A kv=()
        for field in $line; do kv[${field%%=*}]=${field#*=}; done
        log "idle $bench $server: ${kv[bytes_per_conn]} bytes per connection, errors ${kv[errors]}"
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$bench" "$server" "${kv[idle_conns]}" \
            "${kv[connected]}" "${kv[errors]}" "${kv[rss_before_kb]}" "${kv[rss_after_kb]}" \
            "${kv[bytes_per_conn]}" >>"$RSS"
    done
done

# ---------------------------------------------------------------------------------------------
# Instructions per message / request (callgrind)

INSTR=$WORK/instructions.tsv
: >"$INSTR"
for bench in echo http; do
    for server in "${SERVERS[@]}"; do
        bin=${BINARY[$bench:$server]}
        [[ -n $bin ]] || continue
        dir=$WORK/cg-$bench-$server
        port=$(free_port)
        if ! callgrind_start "$bin" "$port" "$dir" $SERVER_CPU; then
            log "callgrind $bench $server: server did not start"
            printf '%s\t%s\tNA\tNA\tNA\n' "$bench" "$server" >>"$INSTR"
            continue
        fi
        run_client "$bench" $CG_CONNS "$port" $CG_WARMUP 0 $CLIENT_CPU "$dir/warmup.txt"
        callgrind_zero "$CG_PID"
        run_client "$bench" $CG_CONNS "$port" $CG_SECS 0 $CLIENT_CPU "$dir/measured.txt"
        ir=$(callgrind_dump "$dir" "$CG_PID")
        stop "$CG_PID" "$CG_WRAPPER"
        read -r _ completed errors _ < <(parse_client "$bench" "$dir/measured.txt")
        log "callgrind $bench $server: Ir $ir, completed $completed, errors $errors"
        printf '%s\t%s\t%s\t%s\t%s\n' "$bench" "$server" "$ir" "$completed" "$errors" >>"$INSTR"
    done
done

# ---------------------------------------------------------------------------------------------
# cpu_stall

log "cpu_stall"
if ! cargo run --release --example cpu_stall >"$WORK/cpu_stall.txt" 2>"$WORK/cpu_stall.err"; then
    log "cpu_stall failed"
    tail -n 5 "$WORK/cpu_stall.err" >&2
fi
# The stall detector's reports go to stderr: keep the first two with the figures, count the rest.
grep '^weft: stall' "$WORK/cpu_stall.err" | head -n 2 >>"$WORK/cpu_stall.txt"
stalls=$(grep -c '^weft: stall' "$WORK/cpu_stall.err")
((stalls > 2)) && echo "… $((stalls - 2)) more stall reports like these" >>"$WORK/cpu_stall.txt"

# ---------------------------------------------------------------------------------------------
# Report

DAY=$(date +%F)
{
    printf 'date\t%s\n' "$(date '+%F %T %z')"
    printf 'servers\tweft async = examples `echo` / `hello_server` (current-thread runtime, one task per connection); weft coroutines = examples `echo_coro` / `hello_server_coro`; tokio = `tokio_echo` / `tokio_hello` (current_thread runtime, one task per connection); may = `may_echo` / `may_hello` (one may worker, one coroutine per connection); raw epoll = `raw_echo` / `raw_hello` (hand-written single-threaded edge-triggered epoll loop, `benches/src/raw.rs`)\n'
    printf 'machine load\t1-minute load average %s after the build, %s at the end (the machine is shared: wall-clock figures carry its noise; callgrind counts do not)\n' "$LOAD_START" "$(cut -d' ' -f1 /proc/loadavg)"
    printf 'CPUs (`nproc`)\t%s\n' "$(nproc)"
    printf 'CPU model\t%s\n' "$(cpu_model)"
    printf 'kernel (`uname -r`)\t%s\n' "$(uname -r)"
    printf 'compiler\t%s\n' "$(rustc -V)"
    printf 'build profile\trelease for every server and client (`%s`)\n' "$(release_profile)"
    printf 'commit\t%s (working tree may differ)\n' "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    printf 'pinning\tevery server `taskset -c %s … --threads 1`, every client `taskset -c %s`\n' \
        $SERVER_CPU $CLIENT_CPU
    printf 'descriptor limit\t%s (`ulimit -n`, servers and clients)\n' "$(ulimit -n)"
    printf 'rounds\t%s; in each, every load against every server, the server order rotating by one per round; a fresh server on a fresh port per run\n' "$ROUNDS"
    printf 'echo load\t`echo_load --conns N --size 64 --duration %s --warmup %s` (one epoll thread; connections opened in paced batches of 100 before the clock starts; every echoed byte checked)\n' "$SECS" "$WARMUP"
    printf 'HTTP load\t`wrk -t1 -cN -d%ss` (warm-up, dropped), then `wrk -t1 -cN -d%ss --latency`\n' "$WARMUP" "$SECS"
    printf 'callgrind load\t%s connections; %s s warm-up, `callgrind_control -z`, %s s measured, `callgrind_control -d`\n' \
        "$CG_CONNS" "$CG_WARMUP" "$CG_SECS"
    printf 'weft examples build\t%s\n' "$WEFT_BUILD"
} >"$WORK/meta.tsv"

mkdir -p benches/results
if ! "$BIN/matrix_report" --work "$WORK" --out "benches/results/matrix-$DAY"; then
    echo "matrix.sh: writing the report failed" >&2
    exit 1
fi
# micro benchmarks, pinned like the servers, appended to the report
log "micro benchmarks"
{
    printf '\n## Micro benchmarks\n\n'
    printf '`taskset -c %s micro` (weft against tokio, current-thread flavour) and `taskset -c %s coro_micro` (weft coroutines against may, one thread each), after the network loads; ns per operation, median of 25 batches:\n\n' \
        $SERVER_CPU $SERVER_CPU
    taskset -c $SERVER_CPU "$BIN/micro" | grep '^|'
    printf '\n'
    taskset -c $SERVER_CPU "$BIN/coro_micro" | grep '^|'
} >>"benches/results/matrix-$DAY.md" || log "micro benchmarks failed"
cat "benches/results/matrix-$DAY.md"
log "done in $((SECONDS / 60)) min $((SECONDS % 60)) s"
