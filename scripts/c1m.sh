#!/usr/bin/env bash
# C100K to C1M on this machine: `epoll-prefork` (WORKERS workers, an idle timeout of
# SERVER_TIMEOUT) holds CONNECTIONS keep-alive connections from `bench hold` (several
# processes of bench over loopback source addresses when one process's descriptors or
# one address's ports do not suffice) for DURATION, ramp included. Bench prints the
# limits first (and refuses a count this machine cannot hold), then the run; this
# script checks the targets from its JSON: every connection held at the end, no error
# of any kind, the server's private memory per held connection, the load generator's
# memory in all its processes (PSS), the ramp, the kernel's memory per connection
# (bench prints it by cache and end above, with each kind of loss and its cause).
#
#   scripts/c1m.sh                                      # 100,000 connections, 120 s
#   CONNECTIONS=200000 DURATION=20s scripts/c1m.sh
#   CONNECTIONS=1000000 DURATION=180s scripts/c1m.sh    # C1M: a 120 s ramp, 60 s held
#   CONNECTIONS=500000 INTERVAL=1s..5s scripts/c1m.sh   # refused: the CPU binds first
#
# WORKERS defaults to what the descriptor limit requires: a worker per 4/5 of
# `ulimit -Hn` connections (serve raises its soft limit to the hard one; SO_REUSEPORT
# spreads the connections unevenly), at least 8. The ping
# interval is bench's rule unless INTERVAL is given; SERVER_TIMEOUT must exceed its
# high end (which bench prints) or the run's length.
set -euo pipefail

CONNECTIONS=${CONNECTIONS:-100000}
PER_WORKER=$(($(ulimit -Hn) * 4 / 5))
WORKERS=${WORKERS:-$(((CONNECTIONS + PER_WORKER - 1) / PER_WORKER))}
[ "$WORKERS" -ge 8 ] || WORKERS=8
DURATION=${DURATION:-120s}
SERVER_TIMEOUT=${SERVER_TIMEOUT:-300}
INTERVAL=${INTERVAL:-}
PORT=${PORT:-18096}

cd "$(dirname "$0")/.."
. scripts/measure-lib.sh
prepare
start_ours epoll-prefork --workers "$WORKERS" --timeout "$SERVER_TIMEOUT"
echo "epoll-prefork: $WORKERS workers, idle timeout $SERVER_TIMEOUT s"
"$IOMODELS" bench hold "127.0.0.1:$PORT" --connections "$CONNECTIONS" --duration "$DURATION" \
    ${INTERVAL:+--interval "$INTERVAL"} --server-pid "$SERVER_PID" --json "$DIR/hold.json"
python3 - "$DIR/hold.json" "$CONNECTIONS" "$SERVER_TIMEOUT" <<'PY'
import json, sys
run, want, server_timeout = json.load(open(sys.argv[1])), int(sys.argv[2]), float(sys.argv[3])
memory, limits = run.get("memory", {}), run.get("limits", {})
errors = sum(run["errors"].values())
by_kind = ", ".join(f"{k} {v}" for k, v in run["errors"].items() if v) or "none"
per_conn = memory.get("server_private_per_conn_b")
client_kb = memory.get("client_pss_kb")
client_mb = client_kb / 1024 if client_kb is not None else None
client_target = max(64.0, 300.0 * want / 1_000_000)
ramp = run.get("ramp_s")
ramp_target = 5.0 if want <= 200_000 else 120.0 * want / 1_000_000
high = limits.get("interval_s", [0, 0])[1]

checks = [
    (f"held at the end: {run.get('held', 0):,} of {want:,}", run.get("held") == want),
    (f"errors of any kind: {errors} ({by_kind})", errors == 0),
    (f"server private memory per held connection: {per_conn} B (target <= 160)",
     per_conn is not None and per_conn <= 160),
    (f"load generator memory, all {memory.get('client_processes', '?')} processes (PSS): "
     f"{client_mb if client_mb is None else round(client_mb, 1)} MB, "
     f"{memory.get('client_per_conn_b')} B per held connection (target <= {client_target:.0f} MB)",
     client_mb is not None and client_mb <= client_target),
    (f"ramp to every connection held: {ramp} s (target <= {ramp_target:.0f})",
     ramp is not None and ramp <= ramp_target),
    (f"kernel memory per held connection (its caches, above): {memory.get('kernel_caches_per_conn_b')} B, "
     f"the server's end {memory.get('kernel_server_per_conn_b')} B",
     memory.get("kernel_server_per_conn_b") is not None),
    (f"the server's idle timeout {server_timeout:.0f} s above the ping interval's high end {high} s"
     f" or the run's {run['duration_s']:.0f} s", server_timeout > min(high, run["duration_s"])),
]
for text, ok in checks:
    print(("PASS " if ok else "FAIL ") + text)
sys.exit(0 if all(ok for _, ok in checks) else 1)
PY
