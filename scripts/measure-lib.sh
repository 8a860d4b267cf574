# Shell helpers for the measuring scripts (sourced, not run): nginx-light as the
# reference server, our servers, and a server's process tree as /proc shows it.
# The caller sets PORT and calls `prepare` first.

# Builds the release binary and sets IOMODELS, URL, a scratch DIR, and an exit trap that
# stops the server running, if any, and removes DIR.
prepare() {
    cargo build --release --quiet
    IOMODELS=target/release/iomodels
    URL="http://127.0.0.1:$PORT/"
    DIR=$(mktemp -d)
    SERVER_PID=
    trap 'stop_servers; rm -rf "$DIR"' EXIT
}

# Starts nginx-light (1 worker, `return 200 "Hello, World!"`, access log off) on
# 127.0.0.1:$PORT, with extra lines for the http block in $1 and for the top level in $2.
start_nginx() {
    cat >"$DIR/nginx.conf" <<CONF
worker_processes 1;
pid $DIR/nginx.pid;
error_log $DIR/error.log;
daemon on;
${2:-}
events { worker_connections 20000; }
http {
    access_log off;
    client_body_temp_path $DIR;
    proxy_temp_path $DIR;
    fastcgi_temp_path $DIR;
    uwsgi_temp_path $DIR;
    scgi_temp_path $DIR;
    keepalive_requests 100000000;
    ${1:-}
    server {
        listen 127.0.0.1:$PORT;
        location / { return 200 "Hello, World!"; }
    }
}
CONF
    /usr/sbin/nginx -c "$DIR/nginx.conf" -e "$DIR/error.log"
    for _ in $(seq 50); do [ -s "$DIR/nginx.pid" ] && break; sleep 0.1; done
    wait_listening
}

# Starts `iomodels serve $1 --proto http` on $PORT with the extra flags after it;
# SERVER_PID is its pid.
start_ours() {
    local model=$1
    shift
    "$IOMODELS" serve "$model" --proto http --addr "127.0.0.1:$PORT" "$@" >/dev/null &
    SERVER_PID=$!
    wait_listening
}

# The pid whose tree is the server just started.
server_root() {
    if [ -n "${SERVER_PID:-}" ]; then echo "$SERVER_PID"; else cat "$DIR/nginx.pid"; fi
}

# Stops whatever server is running, by its pid, and waits until it is gone.
stop_servers() {
    if [ -n "${SERVER_PID:-}" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=
    fi
    if [ -s "$DIR/nginx.pid" ]; then
        kill "$(cat "$DIR/nginx.pid")" 2>/dev/null || true
        for _ in $(seq 50); do [ -e "$DIR/nginx.pid" ] || break; sleep 0.1; done
    fi
}

wait_listening() {
    for _ in $(seq 100); do
        curl -fsS -o /dev/null "$URL" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "the server on $URL did not come up" >&2
    return 1
}

# The pid $1 and every descendant of it, one per line. Read with bash's own `read`, no
# process spawned per pid: a fork server's 2,048 children are listed in a fraction of
# a second, before any of them exits.
tree() {
    local queue=("$1") i=0 file kids
    while [ "$i" -lt ${#queue[@]} ]; do
        echo "${queue[i]}"
        for file in /proc/"${queue[i]}"/task/*/children; do
            kids=()
            # No final newline: read fills kids and returns 1. A process gone
            # meanwhile leaves the glob unexpanded: nothing to read.
            read -r -a kids 2>/dev/null <"$file" || true
            queue+=("${kids[@]}")
        done
        i=$((i + 1))
    done
}

# The contents of /proc/PID/$2 for every process of the tree of $1 ($2 may hold a
# glob, such as task/*/schedstat), read in one pass so a tree of thousands of processes
# is read while it is still whole; a process that exits meanwhile is skipped.
tree_cat() {
    tree "$1" | sed "s|.*|/proc/&/$2|" | xargs sh -c 'cat $@ 2>/dev/null; exit 0' _
}

# Nanoseconds of CPU the process tree of $1 has used so far: the sum of every thread's
# sum_exec_runtime (/proc/PID/task/TID/schedstat), exact where utime/stime are sampled.
tree_cpu_ns() {
    tree_cat "$1" 'task/*/schedstat' | awk '{ ns += $1 } END { printf "%.0f\n", ns }'
}

# Private dirty memory of the process tree of $1, in kB (Private_Dirty from
# /proc/PID/smaps_rollup): the heap, stacks and data its processes wrote and no other
# process shares. Unlike RSS it does not count a page forked children share once per
# child; unlike PSS or Private_Clean it does not fall when another process (a load
# generator running the same binary) maps the same file pages.
tree_private_kb() {
    tree_cat "$1" smaps_rollup | awk '/^Private_Dirty:/ { kb += $2 } END { print kb + 0 }'
}

# Installs nginx-light and wrk if missing (as root), or fails saying so.
need_nginx_and_wrk() {
    if ! command -v wrk >/dev/null || ! [ -x /usr/sbin/nginx ]; then
        if [ "$(id -u)" -ne 0 ]; then
            echo "needs nginx-light and wrk; run as root to install them" >&2
            exit 1
        fi
        apt-get update -qq && apt-get install -y -qq nginx-light wrk >/dev/null
    fi
}
