#!/usr/bin/env bash
# Handlers that work (issue 27's check): each model serves `/wait` (a 10 ms wait on a
# backend) or `/cpu` (100 us of CPU) and `iomodels bench http` drives it with CLIENTS
# keep-alive clients for DURATION, REPEAT times in turn (interleaved: one round runs
# every case once). Prints, per case, the median req/s with its range, the fraction of
# the ideal bound (wait: CLIENTS / wait; cpu: 2 cores / work, less the client's CPU),
# p99 latency, and the server's CPU per wall second.
#
#   scripts/handlers.sh                           # /wait, 100 clients
#   PATHNAME=cpu CLIENTS=100 scripts/handlers.sh  # /cpu
#   CASES="epoll:--offload=0 threads" scripts/handlers.sh
#   THREADS=2 scripts/handlers.sh                 # bench's event-loop threads (default 2)
set -euo pipefail

PATHNAME=${PATHNAME:-wait}
CLIENTS=${CLIENTS:-100}
DURATION=${DURATION:-3s}
REPEAT=${REPEAT:-3}
WAIT=${WAIT:-10ms}
CPU_WORK=${CPU_WORK:-100us}
THREADS=${THREADS:-2}
PORT=0
if [ "$PATHNAME" = wait ]; then
    CASES=${CASES:-"epoll:--offload=0 epoll:--offload=8 epoll threads fork async async-mt coroutines uring poll"}
else
    CASES=${CASES:-"epoll async async:--offload=2 threads prefork epoll-prefork reuseport async-mt"}
fi

cd "$(dirname "$0")/.."
. scripts/measure-lib.sh
prepare

for round in $(seq "$REPEAT"); do
    for case in $CASES; do
        model=${case%%:*}
        flags=()
        [ "$case" != "$model" ] && flags=("${case#*:}")
        start_serve "$model" --proto http --addr 127.0.0.1:0 --wait "$WAIT" \
            --cpu-work "$CPU_WORK" "${flags[@]}"
        "$IOMODELS" bench http "http://$SERVER_ADDR/$PATHNAME" --connections "$CLIENTS" \
            --threads "$THREADS" --duration "$DURATION" --server-pid "$SERVER_PID" \
            --json "$DIR/$case.$round.json" >/dev/null
        stop_servers
    done
done

THREADS=$THREADS python3 - "$DIR" "$PATHNAME" "$CLIENTS" "$WAIT" "$CPU_WORK" "$REPEAT" $CASES <<'PY'
import json, os, re, statistics, sys
d, path, clients, wait, work, repeat, *cases = sys.argv[1:]
def secs(t):
    n, u = re.fullmatch(r'([\d.]+)(ns|us|ms|s)?', t).groups()
    return float(n) * {'ns': 1e-9, 'us': 1e-6, 'ms': 1e-3, 's': 1, None: 1}[u]
cores = os.cpu_count()
print(f"/{path}: {clients} clients, wait {wait}, cpu work {work}, {repeat} rounds, {cores} cores, bench threads {os.environ.get('THREADS', '2')}")
print(f"{'case':<22} {'req/s median':>12} {'range':>19} {'x ideal':>8} {'p99 ms':>8} {'server cores':>12}")
for case in cases:
    runs = [json.load(open(f"{d}/{case}.{r}.json")) for r in range(1, int(repeat) + 1)]
    rps = [r["throughput_per_s"] for r in runs]
    ideals = []
    for r in runs:
        if path == "wait":
            ideals.append(int(clients) / secs(wait))
        else:
            client_cores = (r["client"]["cpu_user_s"] + r["client"]["cpu_sys_s"]) / r["duration_s"]
            ideals.append(max(cores - client_cores, 0.01) / secs(work))
    x = [a / b for a, b in zip(rps, ideals)]
    p99 = statistics.median(r["latency_us"]["p99"] for r in runs) / 1e3
    srv = statistics.median(
        (r["server"]["cpu_user_s"] + r["server"]["cpu_sys_s"]) / r["duration_s"]
        for r in runs if r.get("server"))
    print(f"{case:<22} {statistics.median(rps):>12,.0f} {min(rps):>9,.0f}-{max(rps):<9,.0f}"
          f" {statistics.median(x):>8.3f} {p99:>8.1f} {srv:>12.2f}")
PY
