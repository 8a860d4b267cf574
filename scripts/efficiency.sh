#!/usr/bin/env bash
# Server CPU per request, side by side (issue 5): nginx (nginx-light, 1 worker,
# `return 200 "Hello, World!"`, access_log off) and our models under the same wrk load
# (1 thread, CONNECTIONS keep-alive connections, WARMUP s warm-up, DURATION s measured),
# then the same with HTTP pipelining depth PIPELINE (wrk with a Lua script; 0 skips it).
#
# The figure is the CPU time of the server's whole process tree over the measured run
# divided by the requests wrk completed: on a 2-core machine where wrk takes one core,
# throughput alone cannot rank servers faster than their client. CPU time is the sum
# of every thread's sum_exec_runtime (/proc/PID/task/TID/schedstat, nanoseconds), which
# does not lag like utime/stime. The servers are measured in turn, REPEAT rounds
# interleaved, and each one's medians over the rounds are shown, so a burst of load
# from elsewhere on a shared machine spoils one round, not one server. The ratios to
# nginx and to the floor are taken within each round, then their median.
#
# Prints `iomodels floor` and each server's figures as every round ends, then one line
# per server and mode over all the rounds: µs per request, requests/s, the ratio to
# nginx's µs per request, the multiple of the floor (its
# client watching the connections with epoll, as wrk does), the multiple of the bare
# floor (no client watching: no readiness callback per response), and wrk's median and
# 99th-percentile latency (batching trades some latency for CPU).
set -euo pipefail

CONNECTIONS=${CONNECTIONS:-100}
WARMUP=${WARMUP:-2}
DURATION=${DURATION:-5}
PIPELINE=${PIPELINE:-16}
REPEAT=${REPEAT:-5}
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

# Microseconds in a wrk latency figure such as 87.00us, 1.20ms or 2.00s.
to_us() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; unit = v; sub(/^[0-9.]+/, "", unit)
        printf "%.1f", n * (unit == "ms" ? 1000 : unit == "s" ? 1000000 : 1)
    }'
}

# Warms up, then measures the running server; prints "µs/req req/s p50 p99" (latency
# in µs; wrk's extra arguments in $@).
measure() {
    local pid out before after requests p50 p99
    pid=$(server_root)
    timeout $((WARMUP + 20)) wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" "$@" "$URL" >/dev/null
    before=$(tree_cpu_ns "$pid")
    out=$(timeout $((DURATION + 20)) wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@" "$URL")
    after=$(tree_cpu_ns "$pid")
    if grep -q "Non-2xx\|Socket errors" <<<"$out"; then
        grep "Non-2xx\|Socket errors" <<<"$out" | sed 's/^/  wrk: /' >&2
    fi
    requests=$(awk '/requests in/ { print $1 }' <<<"$out")
    p50=$(to_us "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
    p99=$(to_us "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
    awk -v ns=$((after - before)) -v r="$requests" -v d="$DURATION" -v p50="$p50" -v p99="$p99" \
        'BEGIN { printf "%.3f %.0f %s %s\n", ns / 1000 / r, r / d, p50, p99 }'
}

# One round (number $2) of every server in mode $1 (wrk arguments after them),
# appended to $DIR/$1 as "server round µs/req req/s p50 p99".
round() {
    local mode=$1 n=$2 model
    shift 2
    start_nginx
    echo "nginx $n $(measure "$@")" >>"$DIR/$mode"
    stop_servers
    for model in $MODELS; do
        start_ours "$model" --workers "$WORKERS"
        echo "$model $n $(measure "$@")" >>"$DIR/$mode"
        stop_servers
    done
}

# Each server's medians over the rounds in mode $1: µs per request, requests/s and
# latency, and its ratios to nginx and to the floor, each taken within a round (the
# machine's speed drifts between rounds on a shared host; within one it is shared).
# Given a round number $2, that round alone, as it ends, so the spread behind the
# medians can be seen.
report() {
    local mode=$1 only=${2:-}
    awk -v mode="$mode" -v order="nginx $MODELS" -v only="$only" '
        function median(key, k, i, j, t, v) {
            k = 0
            for (i = 1; (key, i) in vals; i++) v[++k] = vals[key, i]
            for (i = 2; i <= k; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) {
                t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
            }
            return k % 2 ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2
        }
        function add(key, x) { vals[key, ++count[key]] = x }
        FILENAME ~ /floor$/ { floor[FNR] = $1; bare[FNR] = $2; next }
        only != "" && $2 != only { next }
        { us[$1, $2] = $3; add($1 " us", $3); add($1 " rate", $4); add($1 " p50", $5); add($1 " p99", $6); rounds[$2] = 1 }
        END {
            split(order, names, " ")
            for (i = 1; i in names; i++) {
                s = names[i]
                for (r in rounds) if ((s, r) in us) {
                    add(s " nginx", us[s, r] / us["nginx", r]); add(s " floor", us[s, r] / floor[r])
                    add(s " bare", us[s, r] / bare[r])
                }
                if (only != "") printf "  round %d ", only
                printf "%-7s %-10s %6.2f µs/req  %9.0f req/s  %5.2fx nginx  %5.2fx floor  %5.2fx bare",
                    mode, s, median(s " us"), median(s " rate"), median(s " nginx"), median(s " floor"), median(s " bare")
                # wrk times a pipelined batch as one request: no latency to show there.
                if (mode == "plain") printf "  p50 %7.1f µs  p99 %7.1f µs", median(s " p50"), median(s " p99")
                printf "\n"
            }
        }' "$DIR/floor" "$DIR/$mode"
}

echo "wrk -t1 -c$CONNECTIONS, ${WARMUP}s warm-up, ${DURATION}s measured, median of $REPEAT interleaved rounds; our models with --workers $WORKERS"
# The floor too is measured once per round: on a shared machine it moves with the load.
for n in $(seq "$REPEAT"); do
    floor=$("$IOMODELS" floor)
    sed -n '1p;3p' <<<"$floor"
    # "µs bare-µs": the floor's first figure, and the one without a watching client.
    awk 'NR == 1 { f = $2 } /if no client watches/ { b = $(NF - 5) } END { print f, b }' \
        <<<"$floor" >>"$DIR/floor"
    round plain "$n"
    report plain "$n"
    if [ "$PIPELINE" -gt 0 ]; then
        round "pipe$PIPELINE" "$n" -s "$DIR/pipeline.lua"
        report "pipe$PIPELINE" "$n"
    fi
done
median_of() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
FLOOR=$(awk '{ print $1 }' "$DIR/floor" | median_of)
BARE=$(awk '{ print $2 }' "$DIR/floor" | median_of)
echo "floor (median of the rounds): $FLOOR µs per request; bare (no client watching): $BARE µs"
report plain
if [ "$PIPELINE" -gt 0 ]; then report "pipe$PIPELINE"; fi
