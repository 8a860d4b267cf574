#!/usr/bin/env bash
# Memory per held connection (issue 5): for every model (and nginx-light, 1 worker, if
# installed), hold CONNECTIONS idle keep-alive connections after one request each with
# `iomodels bench hold`, and divide the growth of the server's process-tree private
# dirty memory (`tree_private_kb`, read before the hold and again once every connection is
# held) by the connections that got their reply. Models that serve a bounded number of clients at once (blocking,
# prefork, threadpool...) are divided by what they served, so their figure is per
# served connection; the `served` column says how many that was.
#
# Prints one line per server: served, private memory growth in kB, bytes per connection.
# Needs `ulimit -n` above CONNECTIONS + a few (the bench and the server each hold one
# descriptor per connection). Every server it starts is stopped by its pid.
set -euo pipefail

CONNECTIONS=${CONNECTIONS:-10000}
DURATION=${DURATION:-8}
PORT=${PORT:-18095}
MODELS=${MODELS:-$(cd "$(dirname "$0")/.." && cargo run --release --quiet -- list | awk 'NR > 1 { print $1 }')}

cd "$(dirname "$0")/.."
. scripts/measure-lib.sh
prepare

# Holds the connections against the server rooted at $2 and prints its line.
measure() {
    local name=$1 pid=$2 before during bench
    before=$(tree_private_kb "$pid")
    timeout $((DURATION + 60)) "$IOMODELS" bench hold "$URL" --connections "$CONNECTIONS" \
        --interval 3600s..3600s --duration "${DURATION}s" --ramp 200/10ms \
        --server-pid "$pid" --json "$DIR/hold.json" >/dev/null 2>"$DIR/err" &
    bench=$!
    # The ramp opens 200 connections per 10 ms: all are held well before the end.
    sleep $((DURATION - 2))
    during=$(tree_private_kb "$pid")
    if ! wait "$bench"; then
        echo "$name: bench hold failed: $(tail -1 "$DIR/err")"
        return
    fi
    python3 - "$name" "$before" "$during" "$DIR/hold.json" <<'PY'
import json, sys
name, before, during = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
served = json.load(open(sys.argv[4]))["requests"]
growth = during - before
per = growth * 1024 / served if served else float("nan")
print(f"{name:<15} served {served:>6}  private +{growth:>8} kB  {per:>9.0f} bytes/conn")
PY
}

echo "hold $CONNECTIONS idle keep-alive connections, ${DURATION}s, one request each"
if [ -x /usr/sbin/nginx ]; then
    start_nginx "keepalive_timeout 3600s;" "worker_rlimit_nofile 20000;"
    measure nginx "$(server_root)"
    stop_servers
fi
for model in $MODELS; do
    # The idle timeout would close held connections: disable it.
    start_ours "$model" --timeout 0
    measure "$model" "$SERVER_PID"
    stop_servers
done
