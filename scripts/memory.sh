#!/usr/bin/env bash
# Memory per held connection: every model (and nginx-light, 1 worker, if installed)
# holds CONNECTIONS keep-alive connections, each poked now and then with a HEAD, and
# `iomodels compare --workload hold` reports the growth of the server tree's private
# dirty memory per held connection (B/conn), over REPEAT interleaved rounds.
# Needs `ulimit -n` above CONNECTIONS + a few (the load generator and the server each
# hold one descriptor per connection).
#
#   MODELS=epoll,uring,async CONNECTIONS=10000 scripts/memory.sh
set -euo pipefail

MODELS=${MODELS:-all}
CONNECTIONS=${CONNECTIONS:-10000}
DURATION=${DURATION:-2s}
REPEAT=${REPEAT:-3}
PORT=${PORT:-18095}
OUT=${OUT:-report/memory}

cd "$(dirname "$0")/.."
. scripts/measure-lib.sh
prepare
targets=()
if [ -x /usr/sbin/nginx ]; then
    start_nginx "" "worker_rlimit_nofile 30000;"
    targets=(--target "nginx=127.0.0.1:$PORT@$(cat "$DIR/nginx.pid")")
fi
"$IOMODELS" compare --models "$MODELS" --workload hold --concurrency "$CONNECTIONS" \
    --duration "$DURATION" --repeat "$REPEAT" --out "$OUT" "${targets[@]}"
