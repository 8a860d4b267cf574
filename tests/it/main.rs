//! Integration tests: the real `iomodels` binary, driven over loopback sockets.
//!
//! - `serve_echo`, `serve_http`, `serve_lifecycle`: every model under every protocol,
//!   generated from one list (`util::models`), never copied per model.
//! - `serve_conformance`: HTTP/1.1 conformance under every model: error replies and
//!   pipelined replies survive the client's half-close; `Expect: 100-continue`.
//! - `serve_abuse`: hostile clients cannot capture the workers of the blocking family.
//! - `serve_work`: requests that need work (`/cpu`, `/wait`) under every model, and
//!   each family's way of carrying it out (waits overlap, or stall an inline loop);
//!   `serve_work_loops`: the event loops' three ways (`--offload` 0, N, unset), each
//!   loop model through each; `serve_db_loops`: the loops' own pipelined connection
//!   to PostgreSQL (`/db`, `/queries`), each loop model.
//! - `serve_db`: `/db` and `/queries` under every model against a real PostgreSQL
//!   (`util::pg`): the table's rows, clamping, pipelining, a wrong or vanished
//!   database, `--db-pool`, no connection left behind.
//! - `serve_cli`: what `list` and `serve` say to a user; `cli_help`: the help, shell
//!   completions and the man page.
//! - `compare`: a small comparison writes every output file, and survives a model that dies.
//! - `compare_work`: the work workloads (`wait`, `cpu`) rank by x ideal and find the
//!   blocking call inside an event loop.
//! - `compare_db`: the database workloads (`db`, `queries`) against the private
//!   PostgreSQL compare starts, ranked by x pgbench, nothing of the cluster left after;
//!   skipped where PostgreSQL cannot run, unless `CI=true`.
//! - `bench_echo`, `bench_http`, `bench_hold`: the load generator against our servers;
//!   `bench_errors`: against deliberately wrong servers; `bench_cli`: usage errors
//!   (helpers in `bench_util`); `bench_abuse`: hostile clients against models of
//!   every family.
//! - `deploy`: the Kubernetes manifests' command lines parse with our own parser.
//! - `floor`: the kernel's floor, as a command.
//! - `merge`: `iomodels merge` over bench runs made at once.
//! - `report_input`: `report`, `diff` and `merge` read untrusted JSON: what they refuse,
//!   and free text rendered as text.
//! - `remote`: compare and bench across hosts made from network namespaces with a real
//!   sshd each (`lab`); skipped where they cannot be made, unless `CI=true`.
//! - `layers`: every import between top-level modules points down, none round a cycle;
//!   clap only in `src/cli*` and `args.rs` files.
//! - `scripts`: the shell helpers of `scripts/`.
//! - `db`: the private PostgreSQL cluster (`util::pg` shares one per test process),
//!   `db start|stop|status`, `pgbench`; skipped where PostgreSQL cannot run, unless
//!   `CI=true`.

#[macro_use]
mod util;

mod serve_abuse;
mod serve_cli;
mod serve_conformance;
mod serve_db;
mod serve_db_loops;
mod serve_echo;
mod serve_http;
mod serve_lifecycle;
mod serve_work;
mod serve_work_loops;

mod bench_abuse;
mod bench_cli;
mod bench_echo;
mod bench_errors;
mod bench_hold;
mod bench_http;
mod bench_util;
mod cli_help;
mod compare;
mod compare_db;
mod compare_work;
mod db;
mod deploy;
mod floor;
mod lab;
mod layers;
mod merge;
mod remote;
mod report_input;
mod scripts;
