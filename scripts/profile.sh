#!/usr/bin/env bash
# Where a model's CPU goes per request: perf counts the server's system calls,
# io_uring_enter and epoll_wait calls, io_uring completions and deferred task-work runs,
# context switches (each a sleep, so about one wake-up each) and CPU time, while
# `iomodels bench http` drives it with CONNECTIONS keep-alive clients; every count is
# divided by the requests served. One line per model, REPEAT rounds interleaved.
#
#   MODELS="epoll uring uring:1" CONNECTIONS=10 scripts/profile.sh
#
# A model may carry `:N` for `--workers N`. Needs perf (Debian's linux-perf) and root,
# or perf_event_paranoid at most 0, for the tracepoints.
set -euo pipefail

MODELS=${MODELS:-"epoll uring"}
CONNECTIONS=${CONNECTIONS:-10}
DURATION=${DURATION:-4}
REPEAT=${REPEAT:-3}
PORT=${PORT:-18096}

cd "$(dirname "$0")/.."
. scripts/measure-lib.sh
command -v perf >/dev/null || { echo "perf is missing: apt-get install linux-perf" >&2; exit 2; }
prepare

EVENTS=raw_syscalls:sys_enter,syscalls:sys_enter_io_uring_enter,syscalls:sys_enter_epoll_wait
EVENTS+=,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_read,syscalls:sys_enter_write
EVENTS+=,syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendto
EVENTS+=,io_uring:io_uring_complete,io_uring:io_uring_local_work_run
EVENTS+=,context-switches,task-clock

# One round of one model: its counts per request, as a line of `name value` pairs.
profile() {
    local spec=$1 model=${1%%:*} workers=()
    [ "$spec" != "$model" ] && workers=(--workers "${spec#*:}")
    start_ours "$model" "${workers[@]}"
    # The server and its worker processes, if it forked any (threads come with them).
    local pids children
    children=$(pgrep -d, -P "$SERVER_PID" || true)
    pids=$SERVER_PID${children:+,$children}
    perf stat -x, -e "$EVENTS" -p "$pids" -o "$DIR/perf.csv" &
    local perf=$!
    sleep 0.2
    "$IOMODELS" bench http "$URL" --connections "$CONNECTIONS" --duration "${DURATION}s" \
        --json "$DIR/bench.json" >/dev/null
    kill -INT "$perf"
    wait "$perf" || true
    stop_servers
    local requests
    requests=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["requests"])' \
        "$DIR/bench.json")
    awk -F, -v req="$requests" -v spec="$spec" '
        /^#/ || NF < 3 { next }
        { n = $1 + 0; ev = $3; sub(/^.*:/, "", ev); c[ev] += n }
        END {
            sys = c["sys_enter"]; enter = c["sys_enter_io_uring_enter"]
            waits = c["sys_enter_epoll_wait"] + c["sys_enter_epoll_pwait"]
            io = c["sys_enter_read"] + c["sys_enter_write"] + c["sys_enter_recvfrom"] + c["sys_enter_sendto"]
            printf "%-14s req %8d  syscalls/req %5.2f  enter/req %5.2f  epoll_wait/req %5.2f", spec, req, sys/req, enter/req, waits/req
            printf "  rw/req %5.2f  cqe/req %5.2f  cqe/enter %5.2f  taskwork/req %5.2f", io/req, c["io_uring_complete"]/req, (enter ? c["io_uring_complete"]/enter : 0), c["io_uring_local_work_run"]/req
            printf "  cs/req %5.3f  cpu_us/req %5.2f\n", c["context-switches"]/req, c["task-clock"]*1000/req
        }' "$DIR/perf.csv"
}

for round in $(seq "$REPEAT"); do
    for spec in $MODELS; do
        profile "$spec"
    done
done
