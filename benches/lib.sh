# Shell helpers shared by the benchmark scripts (source it; it defines functions only).

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
