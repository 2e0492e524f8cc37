#!/usr/bin/env bash
# The C10K story, checked and measured: every I/O-model example server must echo correctly, then
# the demultiplexer benchmark measures their cost per event (docs/io-models.md).
#
# usage: bash benches/io_models.sh [secs-per-point=0.5] [reps=5]
#
#   1. builds the examples (io_blocking ... io_proactor) and the weft-benches binaries;
#   2. correctness, one fresh server per check, echo_load verifying every byte:
#        - 100 connections, 64-byte ping-pong, 2 s            (every example)
#        - 20 connections, 1 MB messages, 2 s                 (every example: full socket
#          buffers, partial writes, waiting for room)
#        - io_rtsig with WEFT_RTSIG_QUEUE=16, 200 connections  (queue overflows: the poll
#          fallback must keep every connection going)
#        - io_select with 1,100 connections                   (descriptors >= FD_SETSIZE must be
#          refused with a message, the others served)
#        - io_proactor: GET of a file through Linux AIO, compared byte for byte
#      and prints a table; any failure makes the exit status nonzero;
#   3. runs demux_bench --write: N idle + 1 active connection, N = 10 ... 10,000, and writes
#      benches/results/demux-DATE.md and .svg.
#
# Takes about three minutes on a 2-core machine (plus the build).

set -uo pipefail

SECS=${1:-0.5}
REPS=${2:-5}
for tool in cargo python3; do
    command -v "$tool" >/dev/null || { echo "io_models.sh: \`$tool\` is required" >&2; exit 2; }
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 2
WORK=$(mktemp -d "${TMPDIR:-/tmp}/weft-io-models.XXXXXX")
# io_select's FD_SETSIZE check needs more than 1,024 descriptors; demux_bench raises its own.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 20000 2>/dev/null || true

PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "[io_models] $*" >&2; }

log "building (release)"
if ! cargo build --release -p weft-benches >"$WORK/build.log" 2>&1 ||
    ! cargo build --release --examples -p weft >>"$WORK/build.log" 2>&1; then
    tail -n 30 "$WORK/build.log" >&2
    echo "io_models.sh: the build failed" >&2
    exit 1
fi
TARGET=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
BIN=$TARGET/release
EXAMPLES=(io_blocking io_select io_poll io_epoll_lt io_epoll_et io_sigio io_rtsig io_proactor)

# free_port and wait_port.
source "$ROOT/benches/lib.sh"

RESULTS=$WORK/results.tsv
: >"$RESULTS"
FAILED=0

# check NAME EXAMPLE CHECK_COMMAND...: starts EXAMPLE on a fresh port (env from $SERVER_ENV),
# runs CHECK_COMMAND with PORT and SERVER_LOG set, records its last output line.
check() {
    local name=$1 example=$2
    shift 2
    local port out status detail
    port=$(free_port)
    env ${SERVER_ENV:-} "$BIN/examples/$example" --addr "127.0.0.1:$port" >"$WORK/server.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    if ! wait_port "$port" "$pid"; then
        detail="server did not start: $(tail -n 1 "$WORK/server.log")"
        status=FAIL
    else
        out=$(PORT=$port SERVER_LOG=$WORK/server.log "$@" 2>&1)
        if [[ $? -eq 0 ]]; then status=ok; else status=FAIL; fi
        detail=$(tail -n 1 <<<"$out")
    fi
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    [[ $status == ok ]] || FAILED=1
    log "$example $name: $status ($detail)"
    printf '%s\t%s\t%s\t%s\n' "$example" "$name" "$status" "$detail" >>"$RESULTS"
}

echo_load() { # CONNS SIZE: echo_load against $PORT for 2 s
    timeout 60 "$BIN/echo_load" --addr "127.0.0.1:$PORT" --conns "$1" --size "$2" --duration 2 --warmup 0
}

select_limit() { # 1,100 connections: those past FD_SETSIZE refused with a message, the rest fine.
    local out refused
    out=$(echo_load 1100 64 2>&1)
    sleep 0.2
    refused=$(grep -c "FD_SETSIZE" "$SERVER_LOG")
    closed=$(grep -c "connection closed by the server" <<<"$out")
    if ((refused > 0 && refused == closed)) && grep -q "messages=[1-9]" <<<"$out"; then
        echo "$refused connections refused with the FD_SETSIZE message, the rest served: $(tail -n 1 <<<"$out")"
    else
        echo "refused $refused, closed $closed: $(tail -n 1 <<<"$out")"
        return 1
    fi
}

rtsig_overflow() { # a tiny signal queue: overflows must happen and must not lose anything.
    local out
    out=$(echo_load 200 64) || { echo "$out"; return 1; }
    sleep 1.3 # The server reports after a quiet second.
    local overflows
    overflows=$(sed -n 's/.* \([0-9]*\) queue overflows.*/\1/p' "$SERVER_LOG" | tail -n 1)
    echo "${overflows:-0} queue overflows recovered by poll scans: $out"
    [[ ${overflows:-0} -gt 0 ]]
}

proactor_get() { # GET a file through Linux AIO; it must arrive byte for byte.
    python3 - "$PORT" "$BIN/echo_load" <<'PY'
import hashlib, socket, sys, os
port, path = int(sys.argv[1]), os.path.relpath(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(f"GET {path}\n".encode())
got = bytearray()
while chunk := s.recv(1 << 16):
    got += chunk
want = open(path, "rb").read()
ok = bytes(got) == want
print(f"GET {path}: {len(got)} of {len(want)} bytes, {'identical' if ok else 'DIFFERENT'}")
sys.exit(0 if ok else 1)
PY
}

sigio_report() { # echo_load, then the server's signals-vs-events line.
    local out
    out=$(echo_load 100 64) || { echo "$out"; return 1; }
    sleep 0.3
    echo "$(grep -o '[0-9]* SIGIO signals for [0-9]* readiness events' "$SERVER_LOG" | tail -n 1); $out"
}

for example in "${EXAMPLES[@]}"; do
    if [[ $example == io_sigio ]]; then
        check "100 x 64 B" "$example" sigio_report
    else
        check "100 x 64 B" "$example" echo_load 100 64
    fi
    check "20 x 1 MB" "$example" echo_load 20 1000000
done
SERVER_ENV=WEFT_RTSIG_QUEUE=16 check "queue of 16" io_rtsig rtsig_overflow
check "1,100 conns" io_select select_limit
check "GET file" io_proactor proactor_get

echo
echo "## Correctness of the example servers"
echo
echo "| example | check | result | details |"
echo "|---|---|---|---|"
while IFS=$'\t' read -r example name status detail; do
    echo "| \`$example\` | $name | $status | $detail |"
done <"$RESULTS"
echo

log "demultiplexer benchmark (${SECS} s per point, ${REPS} repetitions)"
if ! "$BIN/demux_bench" --secs "$SECS" --reps "$REPS" --write; then
    echo "io_models.sh: demux_bench failed" >&2
    exit 1
fi
if ((FAILED)); then
    echo "io_models.sh: some correctness checks FAILED (see the table above)" >&2
    exit 1
fi
