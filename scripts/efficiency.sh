#!/usr/bin/env bash
# Server CPU per request, side by side (issue 5): nginx (nginx-light, 1 worker,
# `return 200 "Hello, World!"`, access_log off) and our models under the same wrk load
# (1 thread, CONNECTIONS keep-alive connections, WARMUP s warm-up, DURATION s measured),
# then the same with HTTP pipelining depth PIPELINE (wrk with a Lua script).
#
# The figure is the CPU time of the server's whole process tree over the measured run
# divided by the requests wrk completed: on a 2-core machine where wrk takes one core,
# throughput alone cannot rank servers faster than their client. CPU time is the sum
# of every thread's sum_exec_runtime (/proc/PID/task/TID/schedstat, nanoseconds) over
# the tree, which is exact and does not lag like tick-sampled utime/stime.
#
# Prints `iomodels floor` first, then one line per server and run: µs per request,
# requests/s, the ratio to nginx's µs per request, and the multiple of the floor.
# Installs nginx-light and wrk if missing (as root). Every process it starts is
# stopped by its pid on exit.
set -euo pipefail

CONNECTIONS=${CONNECTIONS:-100}
WARMUP=${WARMUP:-2}
DURATION=${DURATION:-5}
PIPELINE=${PIPELINE:-16}
PORT=${PORT:-18090}
WORKERS=${WORKERS:-1}
MODELS=${MODELS:-"epoll async reuseport uring"}

cd "$(dirname "$0")/.."
. scripts/proc-tree.sh

if ! command -v wrk >/dev/null || ! [ -x /usr/sbin/nginx ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "efficiency: needs nginx-light and wrk; run as root to install them" >&2
        exit 1
    fi
    apt-get update -qq && apt-get install -y -qq nginx-light wrk >/dev/null
fi

cargo build --release --quiet
IOMODELS=target/release/iomodels
URL="http://127.0.0.1:$PORT/"

dir=$(mktemp -d)
server_pid=
stop_server() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=
    fi
    if [ -s "$dir/nginx.pid" ]; then
        kill "$(cat "$dir/nginx.pid")" 2>/dev/null || true
        for _ in $(seq 30); do [ -e "$dir/nginx.pid" ] || break; sleep 0.1; done
    fi
}
trap 'stop_server; rm -rf "$dir"' EXIT

cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log;
daemon on;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir;
    proxy_temp_path $dir;
    fastcgi_temp_path $dir;
    uwsgi_temp_path $dir;
    scgi_temp_path $dir;
    keepalive_requests 100000000;
    server {
        listen 127.0.0.1:$PORT;
        location / { return 200 "Hello, World!"; }
    }
}
CONF

cat >"$dir/pipeline.lua" <<LUA
-- Sends $PIPELINE requests in one write, as TechEmpower's pipeline.lua does.
init = function(args)
    local r = {}
    for i = 1, $PIPELINE do r[i] = wrk.format(nil) end
    req = table.concat(r)
end
request = function() return req end
LUA

wait_listening() {
    for _ in $(seq 100); do
        curl -fsS -o /dev/null "$URL" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "efficiency: the server on $URL did not come up" >&2
    return 1
}

# Runs the warm-up and the measured wrk run against the server whose tree is rooted at
# $2; prints "NAME µs/req req/s" (extra wrk arguments after the second).
measure() {
    local name=$1 pid=$2
    shift 2
    timeout $((WARMUP + 20)) wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" "$@" "$URL" >/dev/null
    local before after out requests
    before=$(tree_cpu_ns "$pid")
    out=$(timeout $((DURATION + 20)) wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" "$@" "$URL")
    after=$(tree_cpu_ns "$pid")
    requests=$(awk '/requests in/ { print $1 }' <<<"$out")
    if grep -q "Non-2xx\|Socket errors" <<<"$out"; then
        echo "efficiency: $name: wrk reported errors:" >&2
        grep "Non-2xx\|Socket errors" <<<"$out" >&2
    fi
    awk -v n="$name" -v ns=$((after - before)) -v r="$requests" -v d="$DURATION" \
        'BEGIN { printf "%s %.3f %.0f\n", n, ns / 1000 / r, r / d }'
}

run_all() {
    local label=$1
    shift
    /usr/sbin/nginx -c "$dir/nginx.conf" -e "$dir/error.log"
    for _ in $(seq 50); do [ -s "$dir/nginx.pid" ] && break; sleep 0.1; done
    wait_listening
    measure nginx "$(cat "$dir/nginx.pid")" "$@" >"$dir/$label.txt"
    stop_server
    local model
    for model in $MODELS; do
        "$IOMODELS" serve "$model" --proto http --addr "127.0.0.1:$PORT" \
            --workers "$WORKERS" >/dev/null &
        server_pid=$!
        wait_listening
        measure "$model" "$server_pid" "$@" >>"$dir/$label.txt"
        stop_server
    done
    awk -v label="$label" -v floor="$FLOOR" '
        NR == 1 { nginx = $2 }
        { printf "%-8s %-10s %7.2f µs/req  %9.0f req/s  %5.2fx nginx  %5.2fx floor\n",
                 label, $1, $2, $3, $2 / nginx, $2 / floor }' "$dir/$label.txt"
}

floor_line=$("$IOMODELS" floor | head -1)
echo "$floor_line"
FLOOR=$(awk '{ print $2 }' <<<"$floor_line")
echo "wrk -t1 -c$CONNECTIONS, ${WARMUP}s warm-up, ${DURATION}s measured; our models with --workers $WORKERS"
run_all plain
run_all "pipe$PIPELINE" -s "$dir/pipeline.lua"
