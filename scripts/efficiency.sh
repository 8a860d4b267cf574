#!/usr/bin/env bash
# Server CPU per request against nginx and the floor: nginx (nginx-light, 1 worker,
# `return 200 "Hello, World!"`, access_log off) and our event-loop models under the same
# HTTP keep-alive load, measured by `iomodels compare` itself: interleaved rounds, the
# floor inside each round, CPU from the servers' CPU clocks, tiers. The ratio to nginx
# is the ratio of two rows' x floor in the report. Installs nginx-light if missing (as
# root); nginx is stopped by its pid on exit.
#
#   MODELS=epoll,uring REPEAT=7 scripts/efficiency.sh
set -euo pipefail

MODELS=${MODELS:-epoll,epoll-et,async,reuseport,uring}
CONNECTIONS=${CONNECTIONS:-10,100}
DURATION=${DURATION:-1s}
REPEAT=${REPEAT:-5}
PORT=${PORT:-18090}
OUT=${OUT:-report/efficiency}

cd "$(dirname "$0")/.."
. scripts/measure-lib.sh
need_nginx_and_wrk
prepare
start_nginx
"$IOMODELS" compare --models "$MODELS" --workload http --concurrency "$CONNECTIONS" \
    --duration "$DURATION" --repeat "$REPEAT" --out "$OUT" \
    --target "nginx=127.0.0.1:$PORT@$(cat "$DIR/nginx.pid")"
