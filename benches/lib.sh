# Shell helpers shared by the benchmark scripts (source it; it defines functions only).
#
# Globals the helpers read or set:
#   ECHO_LOAD   path of the echo_load binary (set by bench_build, read by run_client)
#   BIN         the release target directory (set by bench_build)
#   WEFT_BUILD  "ok" or "failed": building the weft examples (set by bench_build)
#   PIDS        array of background processes the calling script kills on exit (appended to)
#   WORK        the calling script's scratch directory

# free_port: prints a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port PORT PID [TIMEOUT_SECS=10]: succeeds once PORT accepts a connection; fails if PID
# dies or the timeout passes.
wait_port() {
    local port=$1 pid=$2 deadline=$((SECONDS + ${3:-10}))
    while ((SECONDS < deadline)); do
        kill -0 "$pid" 2>/dev/null || return 1
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# stop PID...: terminates the processes and waits until they are gone (children or not).
stop() {
    local pid
    for pid in "$@"; do
        kill "$pid" 2>/dev/null
    done
    for pid in "$@"; do
        wait "$pid" 2>/dev/null
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.05
        done
    done
}

# bench_build TAG: builds weft-benches (exits the script on failure) and the weft examples (a
# failure there only sets WEFT_BUILD=failed: the weft servers then show as "not built"), both in
# release; sets BIN, ECHO_LOAD and WEFT_BUILD. Logs go to $WORK.
bench_build() {
    local tag=$1
    if ! cargo build --release -p weft-benches >"$WORK/build-benches.log" 2>&1; then
        cat "$WORK/build-benches.log" >&2
        echo "$tag: building weft-benches failed" >&2
        exit 1
    fi
    WEFT_BUILD=ok
    if ! cargo build --release --examples -p weft >"$WORK/build-weft.log" 2>&1; then
        WEFT_BUILD=failed
        echo "[$tag] building the weft examples failed; the last lines of the log:" >&2
        tail -n 15 "$WORK/build-weft.log" >&2
    fi
    local target
    target=$(cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
    BIN=$target/release
    ECHO_LOAD=$BIN/echo_load
}

# run_client BENCH CONNS PORT SECS WARMUP CPU OUTFILE: loads the server on PORT from CPU, output
# in OUTFILE. echo: echo_load, 64-byte ping-pong, the first WARMUP seconds not counted. http: wrk
# with one thread, a WARMUP-second wrk run first (its output dropped), then the measured one.
run_client() {
    local bench=$1 conns=$2 port=$3 secs=$4 warmup=$5 cpu=$6 out=$7
    if [[ $bench == echo ]]; then
        taskset -c "$cpu" "$ECHO_LOAD" --addr "127.0.0.1:$port" --conns "$conns" --size 64 \
            --duration "$secs" --warmup "$warmup" >"$out" 2>&1
    else
        if [[ $warmup != 0 ]]; then
            taskset -c "$cpu" wrk -t1 -c"$conns" -d"${warmup}s" "http://127.0.0.1:$port/" \
                >/dev/null 2>&1
        fi
        taskset -c "$cpu" wrk -t1 -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:$port/" \
            >"$out" 2>&1
    fi
}

# parse_client BENCH OUTFILE: prints "RATE COMPLETED ERRORS P50_US P99_US P999_US" from
# run_client's output (NA where absent; wrk reports no p99.9).
parse_client() {
    python3 - "$1" "$2" <<'PY'
import re, sys
bench, text = sys.argv[1], open(sys.argv[2], errors="replace").read()
if bench == "echo":
    m = re.search(r"^messages=.*$", text, re.M)
    kv = dict(f.split("=", 1) for f in m[0].split()) if m else {}
    fields = ["msgs_per_sec", "messages", "errors", "p50_us", "p99_us", "p999_us"]
    print(" ".join(kv.get(f, "NA") for f in fields))
else:
    rate = re.search(r"Requests/sec:\s*([\d.]+)", text)
    done = re.search(r"(\d+) requests in", text)
    errors = 0
    m = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", text)
    if m:
        errors += int(m[1])
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        errors += sum(int(g) for g in m.groups())
    scale = {"us": 1, "ms": 1e3, "s": 1e6}
    def latency(pct):
        m = re.search(rf"^\s*{pct}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        return f"{float(m[1]) * scale[m[2]]:.1f}" if m else "NA"
    print(f"{rate[1] if rate else 'NA'} {done[1] if done else 'NA'} "
          f"{errors if rate else 'NA'} {latency(50)} {latency(99)} NA")
PY
}

# callgrind_start BINARY PORT DIR CPU: starts BINARY (--addr 127.0.0.1:PORT --threads 1) under
# callgrind pinned to CPU, its log and profiles in DIR, and waits for PORT. CGOPTS adds options
# to valgrind (e.g. CGOPTS=--dump-instr=yes for a per-instruction profile). Sets CG_WRAPPER (the
# process started) and CG_PID (the profiled one) and adds both to PIDS; fails with the server's
# log on stderr when the server does not come up.
callgrind_start() {
    local bin=$1 port=$2 dir=$3 cpu=$4
    mkdir -p "$dir"
    # taskset goes outside valgrind: valgrind does not follow exec, so `valgrind taskset SERVER`
    # would profile taskset and run the server natively.
    taskset -c "$cpu" valgrind --tool=callgrind ${CGOPTS:-} --callgrind-out-file="$dir/cg.%p" \
        "$bin" --addr "127.0.0.1:$port" --threads 1 >"$dir/server.log" 2>&1 &
    CG_WRAPPER=$!
    PIDS+=("$CG_WRAPPER")
    if ! wait_port "$port" "$CG_WRAPPER" 30; then
        echo "    the server did not start under callgrind:" >&2
        sed 's/^/    /' "$dir/server.log" >&2
        stop "$CG_WRAPPER"
        return 1
    fi
    # /usr/bin/valgrind may be a wrapper script: the profiled process is the one that named its
    # output file.
    CG_PID=$(find "$dir" -maxdepth 1 -name 'cg.*' -printf '%f\n' |
        sed -n 's/^cg\.\([0-9]*\)$/\1/p' | head -n1)
    if [[ -z $CG_PID ]]; then
        echo "    cannot find the profiled process" >&2
        stop "$CG_WRAPPER"
        return 1
    fi
    PIDS+=("$CG_PID")
}

# callgrind_zero PID: zeroes the counters of the profiled process (after the warm-up).
callgrind_zero() {
    callgrind_control -z "$1" >>"$WORK/callgrind-control.log" 2>&1
}

# callgrind_dump DIR PID: dumps the counters of the profiled process, waits until the dump
# (cg.PID.1, ... one per part) is complete, and prints its total Ir (NA when there is none).
callgrind_dump() {
    local dir=$1 pid=$2 ir=NA
    callgrind_control -d "$pid" >>"$WORK/callgrind-control.log" 2>&1
    for _ in $(seq 1 100); do
        ir=$(python3 - "$dir" "$pid" <<'PY'
import glob, re, sys
total, found = 0, False
for path in glob.glob(f"{sys.argv[1]}/cg.{sys.argv[2]}.*"):
    text = open(path, errors="replace").read()
    m = re.search(r"^totals:\s*(\d+)", text, re.M) or re.search(r"^summary:\s*(\d+)", text, re.M)
    if m:
        total, found = total + int(m[1]), True
print(total if found else "NA")
PY
        )
        [[ $ir != NA ]] && break
        sleep 0.1
    done
    echo "$ir"
}

# cpu_ticks PID: the CPU time PID's threads have used so far (user + system), in clock ticks
# (`getconf CLK_TCK` per second). Fields counted after the command name, which may hold spaces.
cpu_ticks() {
    local stat
    stat=$(<"/proc/$1/stat") || return 1
    stat=${stat##*) }
    # shellcheck disable=SC2086 # split into the stat fields on purpose
    set -- $stat
    echo $((${12} + ${13}))
}

# cpu_model: the CPU's model name.
cpu_model() {
    local cpu
    cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n1)
    [[ -n $cpu ]] || cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n1)
    echo "$cpu"
}

# release_profile: the workspace's [profile.release] settings on one line.
release_profile() {
    sed -n '/^\[profile.release\]/,/^\[/p' Cargo.toml | grep -v '^\[' | grep . | paste -sd';' -
}

# check_benches SCRIPT: exits 2 with a message unless $BENCHES lists only "echo" and "http"
# (at least one).
check_benches() {
    local bench
    [[ -n ${BENCHES// /} ]] || { echo "$1: BENCHES is empty" >&2; exit 2; }
    for bench in $BENCHES; do
        [[ $bench == echo || $bench == http ]] || {
            echo "$1: BENCHES=\"$BENCHES\": each must be echo or http" >&2
            exit 2
        }
    done
}
