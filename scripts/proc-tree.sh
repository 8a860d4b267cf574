# Shell helpers for the measuring scripts (sourced, not run): a server's process tree
# as /proc shows it.

# The pid $1 and every descendant of it.
tree() {
    echo "$1"
    local child
    for child in $(cat /proc/"$1"/task/*/children 2>/dev/null); do tree "$child"; done
}

# Nanoseconds of CPU the process tree of $1 has used so far: the sum of every thread's
# sum_exec_runtime (/proc/PID/task/TID/schedstat), exact where utime/stime are sampled.
tree_cpu_ns() {
    local pid total=0 ns
    for pid in $(tree "$1"); do
        for ns in $(cut -d' ' -f1 /proc/"$pid"/task/*/schedstat 2>/dev/null); do
            total=$((total + ns))
        done
    done
    echo "$total"
}

# Resident memory of the process tree of $1, in kB.
tree_rss_kb() {
    local pid total=0 kb
    for pid in $(tree "$1"); do
        kb=$(awk '/^VmRSS:/ { print $2 }' /proc/"$pid"/status 2>/dev/null || true)
        total=$((total + ${kb:-0}))
    done
    echo "$total"
}
