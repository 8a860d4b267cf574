# Shell helpers for the measuring scripts (sourced, not run): the binary, nginx-light as
# the reference server, and our servers. What a server costs is measured by `iomodels`
# itself (compare, bench --server-pid), never read from /proc here.
# The caller sets PORT (0 where no fixed port is used) and calls `prepare` first.
# IOMODELS=/path/to/iomodels runs that binary as it is, with no build; BUILD=debug
# builds and runs the debug binary instead of the release one.

# Builds the binary (unless IOMODELS names one) and sets IOMODELS to it (under
# CARGO_TARGET_DIR, where cargo put it, if that is set), URL, a scratch DIR, and an exit
# trap that stops the server running, if any, and removes DIR.
prepare() {
    if [ -z "${IOMODELS:-}" ]; then
        local build=${BUILD:-release}
        case $build in
            release) cargo build --release --quiet ;;
            debug) cargo build --quiet ;;
            *)
                echo "BUILD is release or debug, not $build" >&2
                return 2
                ;;
        esac
        IOMODELS=${CARGO_TARGET_DIR:-target}/$build/iomodels
    fi
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

# Starts `iomodels serve $1` with the flags after it (they say --proto and --addr), its
# output in SERVE_LOG (default $DIR/serve.log), with at most SERVER_NOFILE descriptors
# if that is set, and waits up to 10 s for its `listening on ADDR` line: SERVER_PID is
# its pid and SERVER_ADDR that address. Fails, the server stopped, if none comes.
start_serve() {
    local model=$1 log=${SERVE_LOG:-$DIR/serve.log}
    shift
    : >"$log"
    (
        if [ -n "${SERVER_NOFILE:-}" ]; then ulimit -n "$SERVER_NOFILE" || exit 1; fi
        exec "$IOMODELS" serve "$model" "$@"
    ) >"$log" 2>&1 &
    SERVER_PID=$!
    SERVER_ADDR=
    for _ in $(seq 100); do
        SERVER_ADDR=$(sed -n 's/^listening on //p' "$log" | head -n 1)
        [ -n "$SERVER_ADDR" ] && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "iomodels serve $model did not say where it listens (see $log)" >&2
    stop_servers
    return 1
}

# Starts `iomodels serve $1 --proto http` on $PORT with the extra flags after it
# (start_serve: SERVER_PID is its pid).
start_ours() {
    local model=$1
    shift
    start_serve "$model" --proto http --addr "127.0.0.1:$PORT" "$@"
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
