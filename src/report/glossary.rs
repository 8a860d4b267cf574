//! What every column and figure of a report means, in one list: report.md prints it as
//! its glossary, report.html gives each column header its explanation as a `title` (a
//! tooltip) and closes with it, and the README repeats it (a test checks that the
//! README names every term).

/// One term and what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Term {
    /// As the report writes it: a column header or a word of the findings.
    pub name: &'static str,
    pub meaning: &'static str,
}

/// Every term, table columns first, in the order a table shows them.
pub const TERMS: &[Term] = &[
    Term {
        name: "#",
        meaning: "The tier. Models the rounds cannot tell apart share a tier; `=2` marks a tier several models share, `-` a model with no figure to rank. The rule that starts a new tier is printed above the tables.",
    },
    Term {
        name: "model",
        meaning: "The server concurrency model (`iomodels list`), with the flags it was served with (`epoll:--cork`), or an external server given with `--target`.",
    },
    Term {
        name: "held",
        meaning: "hold and idle: connections the server still held open at the end of the run.",
    },
    Term {
        name: "req/s",
        meaning: "Successful requests (echo: messages) per second, the median over the rounds. Answers other than 2xx or 3xx are not counted. A `*` marks a run whose load generator used over 90% of a core: the client may have set the pace.",
    },
    Term {
        name: "min-max",
        meaning: "The least and the most req/s over the rounds: the spread. A report of one round (`--quick`) has no spread, so min, max and median are one value.",
    },
    Term {
        name: "p99 ms",
        meaning: "The 99th percentile of request latency (echo: of a message's round trip), in milliseconds: 1 request in 100 took longer.",
    },
    Term {
        name: "x ideal",
        meaning: "cpu and wait: req/s over the ideal bound, the most any server could serve, whatever its model: for a wait of D with C closed-loop clients, C / D; for CPU work W, the cores the load generator leaves the server (its CPU seconds per wall second taken off when it runs on the same CPUs), no more than C, over W. The figure these workloads rank by: higher is better, 1.0 the best a model can do.",
    },
    Term {
        name: "x pgbench",
        meaning: "db and queries: the rows a model read per second over the rows `pgbench -S` read per second at as many clients (fewer where max_connections left fewer free), measured at the start of the same round: PostgreSQL's own rate for the same prepared row lookup on this machine, with no HTTP and no server in between. For /db it is req/s over pgbench's transactions per second; for /queries?queries=N, N times req/s over them. The figure these workloads rank by: higher is better, 1.0 a model that passes on all of the database's rate.",
    },
    Term {
        name: "p99 / work",
        meaning: "cpu and wait: the p99 latency over the handler's own time (the wait, the burn): 1.0 is a request that waited for nothing but its own work; more is time spent queued behind others.",
    },
    Term {
        name: "connect us",
        meaning: "The median time the load generator's TCP connect took, from connect(2) to the connection being writable, in microseconds. A keep-alive run connects once per client, at its start; echo connects once per session.",
    },
    Term {
        name: "errors",
        meaning: "Requests or connections that failed, of every kind: refused or failed connects, resets, timeouts, wrong replies, and HTTP answers other than 2xx or 3xx.",
    },
    Term {
        name: "starved",
        meaning: "http and idle: client connections that got no reply at all during the run, as a blocking server serving a few clients at a time leaves the rest waiting. It shows `-` for echo: an echo client connects, exchanges its messages and closes, session after session, so it is never one connection waiting the whole run; a server that serves few at a time shows there in p99 (a session's first message waits for a worker) instead.",
    },
    Term {
        name: "CPU us/req",
        meaning: "The CPU time (user and system) of the server's whole process tree over the run, divided by the requests that succeeded, in microseconds.",
    },
    Term {
        name: "x floor",
        meaning: "CPU us/req divided by the floor measured in the same round: the figure models are ranked by. The floor (`iomodels floor`) is what one small request costs here at the least: one read(2) and one write(2) on loopback TCP, to a client watching with epoll. Below 1.0 is possible: a server can spend less than one read and one write per request, when one read brings several queued or pipelined requests, or io_uring handles many connections in one system call; and the floor is measured apart from the run, so values near 1.0 carry the host's noise.",
    },
    Term {
        name: "PG us/req",
        meaning: "db and queries: the CPU time of PostgreSQL's processes (the postmaster and its backends, live or reaped) over the run, per request that succeeded, in microseconds; sampled only for the private cluster compare starts, whose processes are its own.",
    },
    Term {
        name: "+PG us/req",
        meaning: "db and queries: CPU us/req and PG us/req together: what a request costs the machine, server and database alike.",
    },
    Term {
        name: "ctx/req",
        meaning: "Context switches of the server's process tree (voluntary and involuntary) per request: how often a request made the server sleep or be preempted.",
    },
    Term {
        name: "PSS MB",
        meaning: "The most memory the server's process tree held at once, as PSS (proportional set size) summed over its processes, in MB: a page shared by N processes counts 1/N in each, so forked workers are not counted N times over.",
    },
    Term {
        name: "PG MB",
        meaning: "db and queries: the most memory PostgreSQL's processes held at once during the run, as PSS summed over them, in MB: each connection is a backend process of its own.",
    },
    Term {
        name: "db conns",
        meaning: "db and queries: the database connections the server held at the peak of the run: PostgreSQL's processes then, less those it has with no client connected.",
    },
    Term {
        name: "pool",
        meaning: "db and queries: the database connections a server is given: `1 per client` (a thread or process per connection, each with its own), `1 per worker (N)` (a pool of N workers), `N threads` (an event loop's pool of threads with a connection each, `--offload=N`), `N conns` (an async pool of N connections, `--db-pool=N`), `default pool` (async's or the coroutines' own size), or the event loop's own way; db conns says how many that came to.",
    },
    Term {
        name: "B/conn",
        meaning: "hold and idle: how much the server tree's private dirty memory grew per held connection, in bytes: what one more open connection costs the server. cpu and wait: its growth from the server at rest to its peak, per client connection (a thread's stack, a coroutine's, a connection's buffers).",
    },
    Term {
        name: "kernel B/conn",
        meaning: "hold: how much the kernel's memory grew per held connection, in bytes: socket buffer pages (/proc/net/sockstat) and slab, where the socket structures live (/proc/meminfo). When the load runs on the server's machine, both ends of each connection count.",
    },
    Term {
        name: "srv kernel B/conn",
        meaning: "hold: the server's end of a held connection in the kernel, in bytes: the slab objects of the sockets and epoll entries the server was counted to hold (/proc/PID/fd, the epoll instances' fdinfo), each priced at its cache's bytes per object (/proc/slabinfo, root only; - elsewhere). What a model costs the kernel, without the load generator's end.",
    },
    Term {
        name: "thr/proc",
        meaning: "The most threads and processes the server's tree had at once, as threads/processes.",
    },
    Term {
        name: "tier",
        meaning: "A group of models the rounds cannot tell apart by their ranking figure. Tier 1 is the cheapest group (for cpu and wait, the one nearest the ideal; for db and queries, the one nearest pgbench's rate). A model that starved clients or failed requests never ranks above one that served them all.",
    },
    Term {
        name: "round",
        meaning: "One pass over every model at every level, in an order rotated by one place per round, with the floor measured inside it; several rounds give each figure a median and a spread.",
    },
    Term {
        name: "family",
        meaning: "How a model waits for its connections: blocking (a process or thread per connection or worker), readiness (select, poll, epoll), async (tokio), coroutine (may) or completion (io_uring). Charts colour a model by its family.",
    },
    Term {
        name: "interference",
        meaning: "A run measured while other processes took more than 10% of a core (each counted by its own CPU clock: every process but the server's tree, the load generator's and compare's), or the hypervisor stole more than 2% of the machine. Such rounds still count in the medians; the findings say how many there were and where. The machine's busy time from /proc/stat is not used for this: it is sampled at the scheduler tick and parts from the processes' exact clocks by itself.",
    },
    Term {
        name: "event loop",
        meaning: "A model of the readiness, async or completion family: a thread waits on many connections at once and serves whichever is ready. One that runs several threads (thr/proc over 2/1: the thread that starts the loops then only waits) runs a loop on each; the findings set those against the single-threaded ones at the fewest clients, where the threads often run out of work and sleep.",
    },
];

/// What `name` means, if it is a term of the report.
pub fn meaning(name: &str) -> Option<&'static str> {
    TERMS.iter().find(|t| t.name == name).map(|t| t.meaning)
}

/// The glossary as a Markdown section.
pub fn markdown() -> String {
    let mut md = String::from("## Glossary\n\n");
    for term in TERMS {
        md.push_str(&format!("- **`{}`**: {}\n", term.name, term.meaning));
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::testing::{cell, costs, report};

    #[test]
    fn every_column_of_every_table_is_explained() {
        let r = report(
            &[
                ("http", &[10]),
                ("idle", &[1000]),
                ("wait", &[100]),
                ("db", &[100]),
            ],
            vec![
                cell("epoll", "http", 10, 1, costs(1.0)),
                cell("epoll", "idle", 1000, 1, costs(1.0)),
                cell("epoll", "wait", 100, 1, costs(1.0)),
                cell("epoll", "db", 100, 1, costs(1.0)),
            ],
        );
        for table in super::super::table::tables(&r) {
            for header in &table.headers {
                assert!(meaning(header).is_some(), "{header} has no meaning");
            }
        }
    }

    #[test]
    fn the_readme_names_every_term() {
        let readme = include_str!("../../README.md");
        let glossary = readme
            .split("## Glossary")
            .nth(1)
            .expect("the README has a glossary");
        for term in TERMS {
            assert!(
                glossary.contains(&format!("`{}`", term.name)),
                "the README's glossary lacks {}",
                term.name
            );
        }
    }
}
