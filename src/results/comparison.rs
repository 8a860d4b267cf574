//! What a comparison measured: every bench run as it reported it, the figures derived
//! from each run, and their median and spread over repeats. `report.json` is a
//! [`Comparison`], serialized by compare and read back by the report and `diff`.

use serde::{Deserialize, Serialize};

use super::run::BenchRun;

/// A workload of the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum CompareWorkload {
    /// Seed 000: connect, 50 round trips of 32 bytes, close; repeated.
    Echo,
    /// Keep-alive HTTP requests.
    Http,
    /// Seed 001 (`ab` without `-k`): a new connection per request.
    HttpClose,
    /// Seed 003: hold many connections, each sending a HEAD now and then.
    Hold,
    /// Throughput of 50 active clients while K idle connections are held.
    Idle,
}

impl CompareWorkload {
    pub fn name(self) -> &'static str {
        match self {
            CompareWorkload::Echo => "echo",
            CompareWorkload::Http => "http",
            CompareWorkload::HttpClose => "http-close",
            CompareWorkload::Hold => "hold",
            CompareWorkload::Idle => "idle",
        }
    }

    /// The protocol the server must speak for it.
    pub fn proto(self) -> &'static str {
        match self {
            CompareWorkload::Echo => "echo",
            _ => "http",
        }
    }

    /// What a level means for this workload (the x axis of its chart).
    pub fn level_name(self) -> &'static str {
        match self {
            CompareWorkload::Echo | CompareWorkload::Http | CompareWorkload::HttpClose => {
                "concurrent clients"
            }
            CompareWorkload::Hold => "connections held",
            CompareWorkload::Idle => "idle connections (50 active clients)",
        }
    }
}

/// The figures a row shows, derived from one run (or the median of several).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Figures {
    pub throughput_per_s: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub connect_p50_us: f64,
    pub errors: f64,
    /// Server CPU (user + system) per request, in microseconds.
    pub cpu_us_per_req: Option<f64>,
    /// Server context switches (voluntary + involuntary) per request.
    pub ctx_per_req: Option<f64>,
    /// The server tree's peak memory, in kB: PSS summed over its processes (the JSON
    /// key keeps its old name).
    #[serde(rename = "rss_peak_kb")]
    pub pss_peak_kb: Option<f64>,
    /// Growth of the server's memory (PSS summed over its tree) per held connection, in
    /// bytes (hold and idle).
    #[serde(rename = "rss_per_conn_b")]
    pub pss_per_conn_b: Option<f64>,
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
    /// The figures of one run; `pss_base_kb` is the server tree's PSS before the run.
    pub fn of(run: &BenchRun, pss_base_kb: Option<u64>) -> Figures {
        let requests = run.requests as f64;
        // Per-request costs of a run that completed no request are undefined, not huge.
        let server = run.server.filter(|_| run.requests > 0);
        let tree = run.server;
        let held = run.held;
        Figures {
            throughput_per_s: run.throughput_per_s,
            p50_us: run.latency_us.p50 as f64,
            p99_us: run.latency_us.p99 as f64,
            connect_p50_us: run.connect_us.p50 as f64,
            errors: run.errors.total() as f64,
            cpu_us_per_req: server.map(|s| (s.cpu_user_s + s.cpu_sys_s) * 1e6 / requests),
            ctx_per_req: server.map(|s| (s.ctx_voluntary + s.ctx_involuntary) as f64 / requests),
            pss_peak_kb: tree.map(|s| s.pss_peak_kb as f64),
            pss_per_conn_b: match (tree, pss_base_kb, held) {
                (Some(s), Some(base), Some(held)) if held > 0 => {
                    Some((s.pss_peak_kb.saturating_sub(base) * 1024) as f64 / held as f64)
                }
                _ => None,
            },
            held: held.map(|h| h as f64),
            starved: run.starved.map(|s| s as f64),
            threads: tree.map(|s| f64::from(s.threads)),
            processes: tree.map(|s| f64::from(s.processes)),
            client_cpu_share: (run.client.cpu_user_s + run.client.cpu_sys_s)
                / run.duration_s.max(1e-9),
        }
    }
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
        ctx_per_req: opt(|f| f.ctx_per_req),
        pss_peak_kb: opt(|f| f.pss_peak_kb),
        pss_per_conn_b: opt(|f| f.pss_per_conn_b),
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

/// One (subject, workload, level): its runs, or why there are none.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cell {
    pub subject: String,
    pub workload: String,
    pub level: usize,
    pub runs: Vec<BenchRun>,
    pub figures: Option<Spread>,
    /// Why the cell has no (or not all its) runs: the row says it instead of a number.
    pub error: Option<String>,
    /// What the server printed on stderr during the cell's runs (its warnings about the
    /// limits it hit), distinct lines, at most [`SERVER_SAID_MAX`].
    pub server_said: Vec<String>,
}

/// The most distinct server lines kept per cell.
pub const SERVER_SAID_MAX: usize = 3;

/// How one server stopped at the end of its workload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StopCheck {
    pub subject: String,
    pub workload: String,
    pub stop_ms: f64,
    pub status: String,
    pub left_behind: Vec<u32>,
}

/// The machine the comparison ran on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Machine {
    pub cpus: usize,
    pub kernel: String,
    pub cpu_model: String,
    pub memory_gib: f64,
}

/// Everything `report.json` holds: one comparison.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Comparison {
    pub version: u32,
    pub command: String,
    pub machine: Machine,
    pub started_unix_s: u64,
    /// `iomodels floor` on this machine: the least CPU (µs) a server spends per small
    /// request; the tables show each model's CPU per request against it. The lower of
    /// the floors measured before and after the models: load from elsewhere only ever
    /// adds to it.
    pub floor_us_per_req: Option<f64>,
    /// The floor measured before the models, and after them.
    #[serde(default)]
    pub floor_before_us_per_req: Option<f64>,
    #[serde(default)]
    pub floor_after_us_per_req: Option<f64>,
    pub wall_s: f64,
    pub duration_ms: u64,
    pub repeat: usize,
    /// Workload name -> levels, in plan order.
    pub workloads: Vec<(String, Vec<usize>)>,
    pub subjects: Vec<String>,
    pub cells: Vec<Cell>,
    pub stops: Vec<StopCheck>,
}

impl Comparison {
    /// How far apart the floors before and after the models are, as the larger over
    /// the smaller: the host's speed changed during the run (other load, a CPU's
    /// frequency) when this is well above 1.
    pub fn floor_drift(&self) -> Option<f64> {
        let (before, after) = self
            .floor_before_us_per_req
            .zip(self.floor_after_us_per_req)?;
        Some(before.max(after) / before.min(after))
    }

    /// The cells of one workload at one level, ranked: by median throughput, cells
    /// without figures last.
    pub fn ranked(&self, workload: &str, level: usize) -> Vec<&Cell> {
        let mut cells: Vec<&Cell> = self
            .cells
            .iter()
            .filter(|c| c.workload == workload && c.level == level)
            .collect();
        cells.sort_by(|a, b| {
            let t = |c: &Cell| {
                c.figures
                    .map_or(f64::NEG_INFINITY, |f| f.median.throughput_per_s)
            };
            t(b).total_cmp(&t(a))
        });
        cells
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
