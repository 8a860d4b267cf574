#!/usr/bin/env bash
# The measurements behind docs/reliability.md: `iomodels bench abuse` against every
# model, for HTTP (server --timeout 2, so timeouts show within the run) and for echo
# (server defaults: no idle timeout, replies bounded by the 10 s write stall).
# Servers run with at most SERVER_NOFILE (4096) descriptors, so the flood (up to this
# shell's own limit) drives every one of them into EMFILE.
# Writes one JSON per (proto, model) into OUT and prints the markdown tables.
# Every run is bounded; each server is stopped by its pid. Servers are started and
# stopped by scripts/measure-lib.sh; this script builds the debug binary unless
# BUILD=release or IOMODELS names one.
#
#   scripts/reliability.sh                 # all models, ~12 minutes
#   MODELS="epoll prethread" HTTP_DURATION=4s ECHO_DURATION=4s scripts/reliability.sh
#   IOMODELS=/path/to/iomodels scripts/reliability.sh   # that binary, no build
set -euo pipefail

HTTP_DURATION=${HTTP_DURATION:-8s}
ECHO_DURATION=${ECHO_DURATION:-14s}
OUT=${OUT:-target/reliability}
BUILD=${BUILD:-debug}
SERVER_NOFILE=${SERVER_NOFILE:-4096}

cd "$(dirname "$0")/.."
. scripts/measure-lib.sh
PORT=0
prepare
MODELS=${MODELS:-$("$IOMODELS" list | awk 'NR > 1 && $1 == "" { exit } NR > 1 { print $1 }')}
mkdir -p "$OUT"

run_one() { # proto model duration server-args...
    local proto=$1 model=$2 duration=$3
    shift 3
    local name="$OUT/$proto-$model"
    if ! SERVE_LOG="$name.serve.log" start_serve "$model" --proto "$proto" \
        --addr 127.0.0.1:0 "$@"; then
        echo "$proto $model: the server did not start (see $name.serve.log)" >&2
        return 0
    fi
    local target=$SERVER_ADDR
    [ "$proto" = http ] && target="http://$SERVER_ADDR/"
    timeout 120 "$IOMODELS" bench abuse "$target" --proto "$proto" --duration "$duration" \
        --server-pid "$SERVER_PID" --json "$name.json" >"$name.txt" 2>&1 \
        || echo "$proto $model: bench abuse failed (see $name.txt)" >&2
    stop_servers
}

for model in $MODELS; do
    run_one http "$model" "$HTTP_DURATION" --timeout 2
    run_one echo "$model" "$ECHO_DURATION"
done

table() { # proto
    local proto=$1 header
    header=$(jq -r '[.hostile[].kind] + ["flood"] | join(" | ")' \
        "$(ls "$OUT"/"$proto"-*.json | head -1)")
    echo "| model | $header | wrong | p99 before / during / after (ms) | PSS before / peak / after (MiB) | CPU s | procs / threads | verdict |"
    echo "|$(printf -- '---|%.0s' $(seq $(( $(echo "$header" | tr -cd '|' | wc -c) + 8 ))))"
    for model in $MODELS; do
        local json="$OUT/$proto-$model.json"
        [ -f "$json" ] || { echo "| $model | (no result) |"; continue; }
        jq -r --arg model "$model" '
            def outcomes: .outcomes | to_entries | sort_by(-.value)
                | map("\(.key) \(.value)") | join(", ");
            def ms: if . == null then "-" else (. * 10 | round / 10 | tostring) end;
            def mib: if . == null then "-" else (. / 1024 * 10 | round / 10 | tostring) end;
            .well_behaved as $w | .server as $s |
            "| \($model) | " + ([.hostile[] | outcomes] + [(.flood // {outcomes: {}}) | outcomes] | join(" | "))
            + " | \([$w.before.wrong, $w.during.wrong, $w.after.wrong] | add)"
            + " | \($w.before.p99_ms | ms) / \($w.during.p99_ms | ms) / \($w.after.p99_ms | ms)"
            + " | \($s.rss_before_kb | mib) / \($s.rss_peak_kb | mib) / \($s.rss_after_kb | mib)"
            + (if $s.rss_recovered == false then " (not recovered)" else "" end)
            + " | \($s.cpu_s | ms) | \($s.processes_peak) / \($s.threads_peak)"
            + " | \(if (.failures | length) == 0 then "pass" else "FAIL: " + .failures[0] end) |"
        ' "$json"
    done
}

echo "### HTTP (server --timeout 2, abuse $HTTP_DURATION, server fd limit $SERVER_NOFILE)"
echo
table http
echo
echo "### echo (server defaults, abuse $ECHO_DURATION, server fd limit $SERVER_NOFILE)"
echo
table echo
