//! The figures derived from one bench run, and their median and spread over the runs
//! of a cell.

use serde::{Deserialize, Serialize};

use super::run::{cpu_seconds, BenchRun};
use crate::sample::TreeSnapshot;

/// The figures a row shows, derived from one run (or the median of several).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Figures {
    pub throughput_per_s: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub connect_p50_us: f64,
    pub errors: f64,
    /// Server CPU (user + system) per request, in microseconds: from the server tree's
    /// CPU clocks in nanoseconds where the run has them, else from clock ticks.
    pub cpu_us_per_req: Option<f64>,
    /// [`Self::cpu_us_per_req`] over the floor measured in the same round: the figure
    /// models are ranked by.
    #[serde(default)]
    pub x_floor: Option<f64>,
    /// cpu and wait: req/s over the ideal bound of the run ([`super::ideal`]): the
    /// figure those workloads rank by, higher is better.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x_ideal: Option<f64>,
    /// db and queries: rows read per second over `pgbench -S`'s in the same round at as
    /// many clients ([`super::db`]): the figure those workloads rank by, higher is
    /// better.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x_pgbench: Option<f64>,
    /// db and queries: PostgreSQL's processes' CPU (user + system) per request, in
    /// microseconds, where they were sampled (a private cluster's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_cpu_us_per_req: Option<f64>,
    /// db and queries: PostgreSQL's peak memory over the run, in kB (PSS summed over
    /// its processes: a backend per connection).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_pss_peak_kb: Option<f64>,
    /// db and queries: the database connections the server held at the peak of the
    /// run (PostgreSQL's backends then, less its processes at rest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_connections: Option<f64>,
    /// Server context switches (voluntary + involuntary) per request.
    pub ctx_per_req: Option<f64>,
    /// The server tree's peak memory, in kB: PSS summed over its processes (the JSON
    /// key keeps its old name).
    #[serde(rename = "rss_peak_kb")]
    pub pss_peak_kb: Option<f64>,
    /// Growth of the server's memory (PSS summed over its tree) per held connection, in
    /// bytes (hold and idle; cpu and wait: per client connection).
    #[serde(rename = "rss_per_conn_b")]
    pub pss_per_conn_b: Option<f64>,
    /// Growth of the server tree's private dirty memory per held connection, in bytes
    /// (hold and idle; cpu and wait: per client connection): what each connection costs
    /// the server alone. PSS growth reads low when the load generator maps the same
    /// binary (the pages the two share count half), so this is the figure the report
    /// shows.
    #[serde(default)]
    pub private_per_conn_b: Option<f64>,
    /// hold: the kernel's memory per held connection, in bytes: socket buffers
    /// (`/proc/net/sockstat`) and slab (`/proc/meminfo`), both ends of each connection
    /// when the load runs on the server's machine.
    #[serde(default)]
    pub kernel_per_conn_b: Option<f64>,
    /// hold, with the server counted (`--server-pid`): the server's end of the kernel's
    /// memory per held connection, in bytes: its sockets and epoll entries, priced
    /// from `/proc/slabinfo`'s caches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_server_per_conn_b: Option<f64>,
    pub held: Option<f64>,
    /// Connections of the run that got no reply at all (http).
    pub starved: Option<f64>,
    pub threads: Option<f64>,
    pub processes: Option<f64>,
    /// The load generator's CPU over the run divided by its wall time: near 1.0 means
    /// the client, not the server, may have been the bottleneck.
    pub client_cpu_share: f64,
}

impl Figures {
    /// The figure cells rank by: x floor, or the CPU per request where no floor was
    /// measured (see [`super::tiers`]).
    pub fn ranking(&self) -> Option<f64> {
        self.x_floor.or(self.cpu_us_per_req)
    }

    /// The figures of one run; `base` is the server tree's memory before the run,
    /// `floor_us` the floor of the run's round.
    pub fn of(run: &BenchRun, base: Option<&TreeSnapshot>, floor_us: Option<f64>) -> Figures {
        let requests = run.requests as f64;
        // Per-request costs of a run that completed no request are undefined, not huge.
        let server = run.server.filter(|_| run.requests > 0);
        let tree = run.server;
        let held = run.held;
        let cpu_us = run.server_cpu_us_per_request();
        let client_cpu_s = cpu_seconds(
            run.client.cpu_ns,
            run.client.cpu_user_s + run.client.cpu_sys_s,
        );
        Figures {
            throughput_per_s: run.throughput_per_s,
            p50_us: run.latency_us.p50 as f64,
            p99_us: run.latency_us.p99 as f64,
            connect_p50_us: run.connect_us.p50 as f64,
            errors: run.errors.total() as f64,
            cpu_us_per_req: cpu_us,
            x_floor: cpu_us.zip(floor_us).map(|(cpu, floor)| cpu / floor),
            x_ideal: None,
            x_pgbench: None,
            db_cpu_us_per_req: None,
            db_pss_peak_kb: None,
            db_connections: None,
            ctx_per_req: server.map(|s| (s.ctx_voluntary + s.ctx_involuntary) as f64 / requests),
            pss_peak_kb: tree.map(|s| s.pss_peak_kb as f64),
            pss_per_conn_b: per_conn(tree.map(|s| s.pss_peak_kb), base.map(|b| b.pss_kb), held),
            private_per_conn_b: per_conn(
                tree.map(|s| s.private_dirty_peak_kb),
                base.map(|b| b.private_dirty_kb),
                held,
            ),
            kernel_per_conn_b: run
                .memory
                .as_ref()
                .map(|m| m.kernel_tcp_per_conn_b + m.kernel_slab_per_conn_b),
            kernel_server_per_conn_b: run.memory.as_ref().and_then(|m| m.kernel_server_per_conn_b),
            held: held.map(|h| h as f64),
            starved: run.starved.map(|s| s as f64),
            threads: tree.map(|s| f64::from(s.threads)),
            processes: tree.map(|s| f64::from(s.processes)),
            client_cpu_share: client_cpu_s / run.duration_s.max(1e-9),
        }
    }
}

/// Growth from `base_kb` to `peak_kb` per held connection, in bytes.
pub(super) fn per_conn(
    peak_kb: Option<u64>,
    base_kb: Option<u64>,
    held: Option<u64>,
) -> Option<f64> {
    let held = held.filter(|&h| h > 0)?;
    Some((peak_kb?.saturating_sub(base_kb?) * 1024) as f64 / held as f64)
}

/// Applies `pick` to each figure across runs (median, min, max).
fn combine(all: &[Figures], pick: fn(&mut [f64]) -> f64) -> Figures {
    let req = |get: fn(&Figures) -> f64| {
        let mut v: Vec<f64> = all.iter().map(get).collect();
        pick(&mut v)
    };
    let opt = |get: fn(&Figures) -> Option<f64>| {
        let mut v: Vec<f64> = all.iter().filter_map(get).collect();
        (!v.is_empty()).then(|| pick(&mut v))
    };
    Figures {
        throughput_per_s: req(|f| f.throughput_per_s),
        p50_us: req(|f| f.p50_us),
        p99_us: req(|f| f.p99_us),
        connect_p50_us: req(|f| f.connect_p50_us),
        errors: req(|f| f.errors),
        cpu_us_per_req: opt(|f| f.cpu_us_per_req),
        x_floor: opt(|f| f.x_floor),
        x_ideal: opt(|f| f.x_ideal),
        x_pgbench: opt(|f| f.x_pgbench),
        db_cpu_us_per_req: opt(|f| f.db_cpu_us_per_req),
        db_pss_peak_kb: opt(|f| f.db_pss_peak_kb),
        db_connections: opt(|f| f.db_connections),
        ctx_per_req: opt(|f| f.ctx_per_req),
        pss_peak_kb: opt(|f| f.pss_peak_kb),
        pss_per_conn_b: opt(|f| f.pss_per_conn_b),
        private_per_conn_b: opt(|f| f.private_per_conn_b),
        kernel_per_conn_b: opt(|f| f.kernel_per_conn_b),
        kernel_server_per_conn_b: opt(|f| f.kernel_server_per_conn_b),
        held: opt(|f| f.held),
        starved: opt(|f| f.starved),
        threads: opt(|f| f.threads),
        processes: opt(|f| f.processes),
        client_cpu_share: req(|f| f.client_cpu_share),
    }
}

fn sorted(v: &mut [f64]) -> &mut [f64] {
    v.sort_by(f64::total_cmp);
    v
}

/// The median (the mean of the middle two for an even count).
pub fn median(v: &mut [f64]) -> f64 {
    let v = sorted(v);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The median of each figure over repeats, and its spread.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Spread {
    pub median: Figures,
    pub min: Figures,
    pub max: Figures,
}

impl Spread {
    pub fn of(all: &[Figures]) -> Option<Spread> {
        (!all.is_empty()).then(|| Spread {
            median: combine(all, median),
            min: combine(all, |v| sorted(v)[0]),
            max: combine(all, |v| *sorted(v).last().expect("non-empty")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn spread_takes_each_figure_on_its_own() {
        let a = Figures {
            throughput_per_s: 10.0,
            p99_us: 300.0,
            ..Figures::default()
        };
        let b = Figures {
            throughput_per_s: 30.0,
            p99_us: 100.0,
            ..Figures::default()
        };
        let c = Figures {
            throughput_per_s: 20.0,
            p99_us: 200.0,
            cpu_us_per_req: Some(5.0),
            ..Figures::default()
        };
        let s = Spread::of(&[a, b, c]).unwrap();
        assert_eq!(s.median.throughput_per_s, 20.0);
        assert_eq!(s.min.p99_us, 100.0);
        assert_eq!(s.max.p99_us, 300.0);
        assert_eq!(
            s.median.cpu_us_per_req,
            Some(5.0),
            "absent figures are left out, not zero"
        );
    }
}
