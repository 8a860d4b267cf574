#!/usr/bin/env bash
# C100K on this machine: `epoll-prefork` (WORKERS workers) holds CONNECTIONS keep-alive
# connections from `bench hold` (several processes of bench over loopback source
# addresses when one process's descriptors or one address's ports do not suffice) for
# DURATION, and the targets are checked from bench's JSON: every connection held at
# the end, no error of any kind, the server's private memory per held connection, the
# load generator's memory in all its processes (the sum of their peak RSS), the ramp.
#
#   scripts/c100k.sh                       # 100,000 connections, 8 workers, 120 s
#   CONNECTIONS=25000 WORKERS=2 DURATION=20s scripts/c100k.sh
set -euo pipefail

CONNECTIONS=${CONNECTIONS:-100000}
WORKERS=${WORKERS:-8}
DURATION=${DURATION:-120s}
PORT=${PORT:-18096}

cd "$(dirname "$0")/.."
. scripts/measure-lib.sh
prepare
start_ours epoll-prefork --workers "$WORKERS"
"$IOMODELS" bench hold "127.0.0.1:$PORT" --connections "$CONNECTIONS" --duration "$DURATION" \
    --server-pid "$SERVER_PID" --json "$DIR/hold.json"
python3 - "$DIR/hold.json" "$CONNECTIONS" <<'PY'
import json, sys
run, want = json.load(open(sys.argv[1])), int(sys.argv[2])
errors = sum(run["errors"].values())
per_conn = run["memory"]["server_private_per_conn_b"]
client_mb = run["client"]["rss_peak_kb"] / 1024
ramp = run.get("ramp_s")
checks = [
    (f"held at the end: {run['held']} of {want}", run["held"] == want),
    (f"errors of any kind: {errors} {run['errors']}", errors == 0),
    (f"server private memory per held connection: {per_conn:.0f} B (target <= 256)", per_conn <= 256),
    (f"load generator memory, all processes: {client_mb:.1f} MB (target <= 64)", client_mb <= 64),
    (f"ramp to every connection held: {ramp} s (target <= 60)", ramp is not None and ramp <= 60),
]
for text, ok in checks:
    print(("PASS " if ok else "FAIL ") + text)
sys.exit(0 if all(ok for _, ok in checks) else 1)
PY
