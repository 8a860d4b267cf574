#!/usr/bin/env bash
# Speed bar of issue 3: `iomodels bench http` must drive nginx at least as fast as wrk.
# Starts nginx (nginx-light, 1 worker, `return 200 "Hello, World!"`) on 127.0.0.1, runs
# wrk and `iomodels bench http` against it in turn, RUNS times each, with the same
# CONNECTIONS keep-alive connections, 1 thread and DURATION; prints both median
# throughputs and their ratio (ours / wrk). Installs nginx-light and wrk if missing
# (as root). Every run is bounded; nginx is stopped by its pid on exit.
set -euo pipefail

RUNS=${RUNS:-3}
CONNECTIONS=${CONNECTIONS:-100}
DURATION=${DURATION:-4}
PORT=${PORT:-18080}

cd "$(dirname "$0")/.."

. scripts/measure-lib.sh
need_nginx_and_wrk
prepare
start_nginx

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

wrk_rates=()
ours_rates=()
for run in $(seq "$RUNS"); do
    rate=$(timeout $((DURATION + 30)) wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" "$URL" |
        awk '/^Requests\/sec:/ { print $2 }')
    wrk_rates+=("$rate")
    echo "run $run: wrk      $rate req/s"
    timeout $((DURATION + 30)) "$IOMODELS" bench http "$URL" --threads 1 \
        --connections "$CONNECTIONS" --duration "${DURATION}s" --json "$DIR/ours.json" >/dev/null
    rate=$(awk -F'[:,]' '/"throughput_per_s"/ { gsub(/ /, "", $2); print $2 }' "$DIR/ours.json")
    ours_rates+=("$rate")
    echo "run $run: iomodels $rate req/s"
done

wrk_median=$(printf '%s\n' "${wrk_rates[@]}" | median)
ours_median=$(printf '%s\n' "${ours_rates[@]}" | median)
ratio=$(awk -v a="$ours_median" -v b="$wrk_median" 'BEGIN { printf "%.3f", a / b }')
echo "median wrk:      $wrk_median req/s"
echo "median iomodels: $ours_median req/s"
echo "ratio iomodels/wrk: $ratio"
awk -v r="$ratio" 'BEGIN { exit !(r >= 1.0) }' && echo "PASS: at least as fast as wrk" ||
    echo "BELOW the bar: slower than wrk"
