//! The work workloads of a comparison, `cpu` and `wait`: keep-alive HTTP requests to
//! `/cpu` and `/wait`, each of which asks the server for work (a burn of CPU, a wait as
//! on a backend). What each request asks ([`WorkAmounts`], as report.json records it),
//! the variants they run beside every model ([`variants`]: the list lives here alone),
//! and the figures a run of them adds: its [`x ideal`](super::ideal) and the server's
//! memory per client connection.

use serde::{Deserialize, Serialize};

use super::comparison::CompareWorkload;
use super::figures::{per_conn, Figures};
use super::ideal::Bound;
use super::run::BenchRun;
use crate::protocol::Handlers;
use crate::sample::TreeSnapshot;

/// The work each request of the work workloads asks of the server: `compare --cpu-work`
/// and `--wait`, given to every server of those workloads as `serve --cpu-work` and
/// `--wait`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WorkAmounts {
    /// The CPU `/cpu` burns per request, in µs.
    pub cpu_work_us: f64,
    /// How long `/wait` waits per request, in ms.
    pub wait_ms: f64,
}

impl From<Handlers> for WorkAmounts {
    fn from(handlers: Handlers) -> Self {
        WorkAmounts {
            cpu_work_us: handlers.cpu.as_secs_f64() * 1e6,
            wait_ms: handlers.wait.as_secs_f64() * 1e3,
        }
    }
}

impl WorkAmounts {
    /// The handler's own time for a request of `workload`, in seconds: the burn of
    /// `cpu`, the wait of `wait`; `None` for a workload that asks no work.
    pub fn handler_s(&self, workload: &str) -> Option<f64> {
        match workload.parse::<CompareWorkload>() {
            Ok(CompareWorkload::Cpu) => Some(self.cpu_work_us / 1e6),
            Ok(CompareWorkload::Wait) => Some(self.wait_ms / 1e3),
            _ => None,
        }
    }
}

/// Is `workload` one whose requests ask the server for work (`cpu`, `wait`)?
pub fn is_work(workload: &str) -> bool {
    matches!(
        workload.parse::<CompareWorkload>(),
        Ok(CompareWorkload::Cpu | CompareWorkload::Wait)
    )
}

/// The path a workload's requests ask for: `/cpu`, `/wait`, or `/` (hello, world).
pub fn path(workload: CompareWorkload) -> &'static str {
    match workload {
        CompareWorkload::Cpu => "/cpu",
        CompareWorkload::Wait => "/wait",
        _ => "/",
    }
}

/// The variant that carries every wait inside its event loop (`--offload 0`): the
/// seeds' code ported naively, a blocking call inside an event loop.
pub const LOOP_INLINE: &str = "epoll:--offload=0";
/// The variant with seed 004's pool of threads for the blocking work.
pub const LOOP_POOL: &str = "epoll:--offload=8";
/// async with its CPU work on tokio's blocking pool (`spawn_blocking`), beside async
/// with it inline on the runtime's thread, the classic async mistake.
pub const ASYNC_BLOCKING_POOL: &str = "async:--offload=2";

/// The variants a work workload runs beside every model when `--models` is `all`:
/// epoll with the wait in its loop and with a pool, beside epoll with its own timer
/// (its default), for `wait`; async with `spawn_blocking`, for `cpu`.
pub fn variants(workload: CompareWorkload) -> &'static [&'static str] {
    match workload {
        CompareWorkload::Wait => &[LOOP_INLINE, LOOP_POOL],
        CompareWorkload::Cpu => &[ASYNC_BLOCKING_POOL],
        _ => &[],
    }
}

/// Adds to the figures of one run of a work workload what only those runs have: x ideal
/// against `bound` (none without one), and the server's memory growth per client
/// connection, from `base`, the server at rest, to its peak (each client holds one
/// connection for the whole run).
pub fn add_figures(
    figures: &mut Figures,
    run: &BenchRun,
    base: Option<&TreeSnapshot>,
    bound: Option<&Bound>,
) {
    figures.x_ideal = bound.map(|b| b.x_ideal(figures));
    let clients = Some(run.connections as u64);
    let tree = run.server;
    figures.pss_per_conn_b = per_conn(tree.map(|s| s.pss_peak_kb), base.map(|b| b.pss_kb), clients);
    figures.private_per_conn_b = per_conn(
        tree.map(|s| s.private_dirty_peak_kb),
        base.map(|b| b.private_dirty_kb),
        clients,
    );
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_amounts_are_recorded_in_the_units_people_write() {
        let amounts = WorkAmounts::from(Handlers {
            cpu: Duration::from_micros(250),
            wait: Duration::from_millis(20),
            database: None,
        });
        assert_eq!(
            amounts,
            WorkAmounts {
                cpu_work_us: 250.0,
                wait_ms: 20.0
            }
        );
        assert_eq!(amounts.handler_s("cpu"), Some(250e-6));
        assert_eq!(amounts.handler_s("wait"), Some(0.02));
        assert_eq!(amounts.handler_s("http"), None);
    }

    /// A run of `clients` connections whose server's private memory peaked at
    /// `private_peak_kb`, serving 9,000 req/s.
    fn run(clients: usize, private_peak_kb: u64) -> BenchRun {
        let summary =
            serde_json::json!({"mean": 1.0, "p50": 1, "p90": 1, "p99": 12000, "p999": 1, "max": 1});
        serde_json::from_value(serde_json::json!({
            "workload": "http", "target": "http://127.0.0.1:1/wait", "connections": clients,
            "duration_s": 1.0, "requests": 9000, "throughput_per_s": 9000.0,
            "errors": {"connect": 0, "reset": 0, "timeout": 0, "mismatch": 0, "http_status": 0},
            "latency_us": summary, "connect_us": summary,
            "server": {"cpu_user_s": 0.1, "cpu_sys_s": 0.1, "rss_peak_kb": 4000,
                       "private_dirty_peak_kb": private_peak_kb, "ctx_voluntary": 0,
                       "ctx_involuntary": 0, "threads": 101, "processes": 1},
            "client": {"cpu_user_s": 0.3, "cpu_sys_s": 0.2, "rss_peak_kb": 1000},
            "threads": 1, "connections_opened": clients
        }))
        .expect("a bench run")
    }

    #[test]
    fn a_work_run_gets_its_x_ideal_and_memory_per_client_connection() {
        let at_rest = TreeSnapshot {
            pss_kb: 2000,
            private_dirty_kb: 1000,
            ..TreeSnapshot::default()
        };
        let run = run(100, 1900);
        let mut figures = Figures::of(&run, Some(&at_rest), Some(5.0));
        assert_eq!(figures.private_per_conn_b, None, "no connections held");
        let amounts = WorkAmounts::from(Handlers::DEFAULT);
        let bound = Bound::of("wait", 100, &amounts, None).unwrap();
        add_figures(&mut figures, &run, Some(&at_rest), Some(&bound));
        assert!((figures.x_ideal.unwrap() - 0.9).abs() < 1e-9);
        // 900 kB over 100 client connections.
        assert_eq!(figures.private_per_conn_b, Some(9216.0));
        assert_eq!(figures.pss_per_conn_b, Some(20480.0));
        add_figures(&mut figures, &run, None, None);
        assert_eq!((figures.x_ideal, figures.private_per_conn_b), (None, None));
    }

    #[test]
    fn only_cpu_and_wait_ask_for_work_and_run_variants() {
        assert!(is_work("cpu") && is_work("wait"));
        assert!(!is_work("http") && !is_work("idle") && !is_work("nonsense"));
        assert_eq!(path(CompareWorkload::Wait), "/wait");
        assert_eq!(path(CompareWorkload::Http), "/");
        assert!(variants(CompareWorkload::Wait).contains(&LOOP_INLINE));
        assert!(variants(CompareWorkload::Http).is_empty());
    }
}
