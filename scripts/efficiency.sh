#!/usr/bin/env bash
# Server CPU per request, side by side (issue 5): nginx (nginx-light, 1 worker,
# `return 200 "Hello, World!"`, access_log off) and our models under the same wrk load
# (1 thread, CONNECTIONS keep-alive connections, WARMUP s warm-up, DURATION s measured),
# then the same with HTTP pipelining depth PIPELINE (wrk with a Lua script).
#
# The figure is the CPU time of the server's whole process tree over the measured run
# divided by the requests wrk completed: on a 2-core machine where wrk takes one core,
# throughput alone cannot rank servers faster than their client. CPU time is the sum
# of every thread's sum_exec_runtime (/proc/PID/task/TID/schedstat, nanoseconds), which
# does not lag like utime/stime. The servers are measured in turn, REPEAT rounds
# interleaved, and each one's median round is shown, so a burst of load from elsewhere
# on a shared machine spoils one round, not one server.
#
# Prints `iomodels floor` each round, then one line per server and mode: µs per request,
# requests/s, the ratio to nginx's µs per request, and the multiple of the floor.
set -euo pipefail

CONNECTIONS=${CONNECTIONS:-100}
WARMUP=${WARMUP:-2}
DURATION=${DURATION:-5}
PIPELINE=${PIPELINE:-16}
REPEAT=${REPEAT:-3}
PORT=${PORT:-18090}
WORKERS=${WORKERS:-1}
MODELS=${MODELS:-"epoll async reuseport uring"}

cd "$(dirname "$0")/.."
. scripts/measure-lib.sh
need_nginx_and_wrk
prepare

cat >"$DIR/pipeline.lua" <<LUA
-- Sends $PIPELINE requests in one write, as TechEmpower's pipeline.lua does.
init = function(args)
    local r = {}
    for i = 1, $PIPELINE do r[i] = wrk.format(nil) end
    req = table.concat(r)
end
request = function() return req end
LUA

# Warms up, then measures the running server; prints "µs/req req/s" (wrk's extra
# arguments in $@).
measure() {
    local pid out before after requests
    pid=$(server_root)
    timeout $((WARMUP + 20)) wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" "$@" "$URL" >/dev/null
    before=$(tree_cpu_ns "$pid")
    out=$(timeout $((DURATION + 20)) wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" "$@" "$URL")
    after=$(tree_cpu_ns "$pid")
    if grep -q "Non-2xx\|Socket errors" <<<"$out"; then
        grep "Non-2xx\|Socket errors" <<<"$out" | sed 's/^/  wrk: /' >&2
    fi
    requests=$(awk '/requests in/ { print $1 }' <<<"$out")
    awk -v ns=$((after - before)) -v r="$requests" -v d="$DURATION" \
        'BEGIN { printf "%.3f %.0f\n", ns / 1000 / r, r / d }'
}

# One round of every server in mode $1 (wrk arguments after it), appended to $DIR/$1.
round() {
    local mode=$1 model
    shift
    start_nginx
    echo "nginx $(measure "$@")" >>"$DIR/$mode"
    stop_servers
    for model in $MODELS; do
        start_ours "$model" --workers "$WORKERS"
        echo "$model $(measure "$@")" >>"$DIR/$mode"
        stop_servers
    done
}

# Each server's median round in mode $1, against nginx's and the floor.
report() {
    local mode=$1
    sort -k1,1 -k2,2g "$DIR/$mode" | awk -v mode="$mode" -v floor="$FLOOR" -v order="nginx $MODELS" '
        { n[$1]++; us[$1, n[$1]] = $2; rate[$1, n[$1]] = $3 }
        END {
            split(order, names, " ")
            m = int((n["nginx"] + 1) / 2); base = us["nginx", m]
            for (i = 1; i in names; i++) {
                s = names[i]; m = int((n[s] + 1) / 2)
                printf "%-7s %-10s %6.2f µs/req  %9.0f req/s  %5.2fx nginx  %5.2fx floor\n",
                    mode, s, us[s, m], rate[s, m], us[s, m] / base, us[s, m] / floor
            }
        }'
}

echo "wrk -t1 -c$CONNECTIONS, ${WARMUP}s warm-up, ${DURATION}s measured, median of $REPEAT interleaved rounds; our models with --workers $WORKERS"
# The floor too is measured once per round: on a shared machine it moves with the load.
for _ in $(seq "$REPEAT"); do
    "$IOMODELS" floor | head -1 | tee -a "$DIR/floor"
    round plain
    round "pipe$PIPELINE" -s "$DIR/pipeline.lua"
done
FLOOR=$(awk '{ print $2 }' "$DIR/floor" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
echo "floor (median of the rounds): $FLOOR µs per request"
report plain
report "pipe$PIPELINE"
