#!/usr/bin/env bash
# Memory per held connection (issue 5): for every model (and nginx-light, 1 worker, if
# installed), hold CONNECTIONS idle keep-alive connections after one request each with
# `iomodels bench hold`, and divide the growth of the server's process-tree RSS (the
# peak `--server-pid` sampled, minus the RSS before the run) by the connections that
# got their reply. Models that serve a bounded number of clients at once (blocking,
# prefork, threadpool...) are divided by what they served, so their figure is per
# served connection; the `served` column says how many that was.
#
# Prints one line per server: served, RSS growth in kB, bytes per connection.
# Needs `ulimit -n` above CONNECTIONS + a few (the bench and the server each hold one
# descriptor per connection). Every server it starts is stopped by its pid.
set -euo pipefail

CONNECTIONS=${CONNECTIONS:-10000}
DURATION=${DURATION:-8}
PORT=${PORT:-18095}
MODELS=${MODELS:-$(cd "$(dirname "$0")/.." && cargo run --release --quiet -- list | awk 'NR > 1 { print $1 }')}

cd "$(dirname "$0")/.."
. scripts/proc-tree.sh

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

wait_listening() {
    for _ in $(seq 100); do
        curl -fsS -o /dev/null "$URL" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "memory: the server on $URL did not come up" >&2
    return 1
}

# Holds the connections against the server rooted at $2 and prints its line.
measure() {
    local name=$1 pid=$2 before
    before=$(tree_rss_kb "$pid")
    if ! timeout $((DURATION + 60)) "$IOMODELS" bench hold "$URL" --connections "$CONNECTIONS" \
        --interval 3600s..3600s --duration "${DURATION}s" --ramp 200/10ms \
        --server-pid "$pid" --json "$dir/hold.json" >/dev/null 2>"$dir/err"; then
        echo "$name: bench hold failed: $(tail -1 "$dir/err")"
        return
    fi
    python3 - "$name" "$before" "$dir/hold.json" <<'PY'
import json, sys
name, before, report = sys.argv[1], int(sys.argv[2]), json.load(open(sys.argv[3]))
served = report["requests"]
growth = report["server"]["rss_peak_kb"] - before
per = growth * 1024 / served if served else float("nan")
print(f"{name:<15} served {served:>6}  RSS +{growth:>8} kB  {per:>9.0f} bytes/conn")
PY
}

echo "hold $CONNECTIONS idle keep-alive connections, ${DURATION}s, one request each"
if [ -x /usr/sbin/nginx ]; then
    cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
worker_rlimit_nofile 20000;
pid $dir/nginx.pid;
error_log $dir/error.log;
daemon on;
events { worker_connections 20000; }
http {
    access_log off;
    client_body_temp_path $dir;
    proxy_temp_path $dir;
    fastcgi_temp_path $dir;
    uwsgi_temp_path $dir;
    scgi_temp_path $dir;
    keepalive_timeout 3600s;
    keepalive_requests 100000000;
    server {
        listen 127.0.0.1:$PORT;
        location / { return 200 "Hello, World!"; }
    }
}
CONF
    /usr/sbin/nginx -c "$dir/nginx.conf" -e "$dir/error.log"
    for _ in $(seq 50); do [ -s "$dir/nginx.pid" ] && break; sleep 0.1; done
    wait_listening
    measure nginx "$(cat "$dir/nginx.pid")"
    stop_server
fi
for model in $MODELS; do
    # The idle timeout would close held connections: disable it.
    "$IOMODELS" serve "$model" --proto http --addr "127.0.0.1:$PORT" --timeout 0 >/dev/null &
    server_pid=$!
    wait_listening
    measure "$model" "$server_pid"
    stop_server
done
