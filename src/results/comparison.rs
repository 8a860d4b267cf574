//! What a comparison measured: its rounds (each with its own floor), every bench run as
//! it reported it with the round it belongs to, the figures derived from each run, their
//! median and spread over the rounds, and each cell's tier. `report.json` is a
//! [`Comparison`], serialized by compare and read back by the report and `diff`.

use serde::{Deserialize, Serialize};

use super::figures::{Figures, Spread};
use super::run::BenchRun;
use super::validate;

/// A workload of the comparison ([`about`](Self::about) says what each is).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CompareWorkload {
    Echo,
    Http,
    HttpClose,
    Hold,
    Idle,
    Cpu,
    Wait,
    Db,
    Queries,
}

impl CompareWorkload {
    /// Every workload, in the order the command line lists them.
    pub const ALL: [CompareWorkload; 9] = [
        CompareWorkload::Echo,
        CompareWorkload::Http,
        CompareWorkload::HttpClose,
        CompareWorkload::Hold,
        CompareWorkload::Idle,
        CompareWorkload::Cpu,
        CompareWorkload::Wait,
        CompareWorkload::Db,
        CompareWorkload::Queries,
    ];

    /// Its name on the command line and in a report.
    pub fn name(self) -> &'static str {
        match self {
            CompareWorkload::Echo => "echo",
            CompareWorkload::Http => "http",
            CompareWorkload::HttpClose => "http-close",
            CompareWorkload::Hold => "hold",
            CompareWorkload::Idle => "idle",
            CompareWorkload::Cpu => "cpu",
            CompareWorkload::Wait => "wait",
            CompareWorkload::Db => "db",
            CompareWorkload::Queries => "queries",
        }
    }

    /// What it is, in a few words, for the command line's help.
    pub fn about(self) -> &'static str {
        match self {
            CompareWorkload::Echo => {
                "Seed 000: connect, 50 round trips of 32 bytes, close; repeated"
            }
            CompareWorkload::Http => "Keep-alive HTTP requests",
            CompareWorkload::HttpClose => {
                "Seed 001 (`ab` without `-k`): a new connection per request"
            }
            CompareWorkload::Hold => {
                "Seed 003: hold many connections, each sending a HEAD now and then"
            }
            CompareWorkload::Idle => {
                "Throughput of 50 active clients while K idle connections are held"
            }
            CompareWorkload::Cpu => {
                "Keep-alive HTTP requests to /cpu, each burning the server's --cpu-work"
            }
            CompareWorkload::Wait => {
                "Keep-alive HTTP requests to /wait, each waiting the server's --wait"
            }
            CompareWorkload::Db => {
                "TechEmpower's single query: /db reads one row of PostgreSQL's World table"
            }
            CompareWorkload::Queries => {
                "TechEmpower's multiple queries: /queries?queries=N reads N rows, one query each"
            }
        }
    }

    /// Does it hold connections, and so measure memory per held connection? Its
    /// servers are started afresh each round, since memory a server keeps once its
    /// connections close would otherwise hide the next round's growth.
    pub fn holds_connections(self) -> bool {
        matches!(self, CompareWorkload::Hold | CompareWorkload::Idle)
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
            CompareWorkload::Echo
            | CompareWorkload::Http
            | CompareWorkload::HttpClose
            | CompareWorkload::Cpu
            | CompareWorkload::Wait
            | CompareWorkload::Db
            | CompareWorkload::Queries => "concurrent clients",
            CompareWorkload::Hold => "connections held",
            CompareWorkload::Idle => "idle connections (50 active clients)",
        }
    }
}

impl std::str::FromStr for CompareWorkload {
    type Err = String;

    /// A workload by its [`name`](CompareWorkload::name).
    fn from_str(name: &str) -> Result<Self, String> {
        CompareWorkload::ALL
            .into_iter()
            .find(|w| w.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = CompareWorkload::ALL.iter().map(|w| w.name()).collect();
                format!(
                    "no workload named '{name}' (workloads: {})",
                    names.join(", ")
                )
            })
    }
}

/// Active keep-alive clients measured by the `idle` workload.
pub const IDLE_ACTIVE_CLIENTS: usize = 50;

/// The models of the seeds' idle question, how select and poll scale against epoll:
/// those `idle` runs by default, and those the report's findings follow.
pub const IDLE_QUESTION_MODELS: [&str; 3] = ["select", "poll", "epoll"];

/// How many clients of a cell the load generator runs (and so may starve): the level,
/// but the active clients for `idle`, whose level counts silent connections.
pub fn active_clients(workload: &str, level: usize) -> usize {
    if workload == CompareWorkload::Idle.name() {
        IDLE_ACTIVE_CLIENTS
    } else {
        level
    }
}

/// One (subject, workload, level): its runs, or why there are none.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cell {
    pub subject: String,
    pub workload: String,
    pub level: usize,
    pub runs: Vec<BenchRun>,
    /// For each of [`Self::runs`], in the same order: its round, its figures and what
    /// else used the machine meanwhile.
    #[serde(default)]
    pub rounds: Vec<RoundRun>,
    /// The median and spread of the runs' figures.
    pub figures: Option<Spread>,
    /// 1 for the best; cells the rounds cannot tell apart share one (see
    /// [`super::tiers`]). `None` for a cell with no figures to rank.
    #[serde(default)]
    pub tier: Option<usize>,
    /// Why the cell has no (or not all its) runs: the row says it instead of a number.
    pub error: Option<String>,
    /// What the server printed on stderr during the cell's runs (its warnings about the
    /// limits it hit), distinct lines, at most [`SERVER_SAID_MAX`].
    pub server_said: Vec<String>,
}

/// One run of a cell, in the round it was measured in.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct RoundRun {
    pub round: usize,
    pub figures: Figures,
    pub host: HostLoad,
}

/// What else used the machine while a run measured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct HostLoad {
    /// CPU time the hypervisor gave to other guests, in % of the machine's time.
    pub steal_pct: f64,
    /// CPU that other processes took (every process but the server's tree, the load
    /// generator's and compare), each by its own CPU clock, in % of one core.
    pub outside_pct_of_core: f64,
    /// The machine's busy time (`/proc/stat`, sampled at the scheduler tick) that
    /// neither our processes' clocks nor the others' account for, in % of one core: the
    /// two clocks parting, and interrupts charged to no process; not interference.
    #[serde(default)]
    pub untracked_pct_of_core: f64,
    /// Over [`DISTURBED_OUTSIDE_PCT`] or [`DISTURBED_STEAL_PCT`]: the run was measured
    /// under interference.
    pub disturbed: bool,
}

/// More CPU than this taken by other processes (% of one core) marks a run as disturbed.
pub const DISTURBED_OUTSIDE_PCT: f64 = 10.0;
/// More steal than this (% of the machine's time) marks a run as disturbed.
pub const DISTURBED_STEAL_PCT: f64 = 2.0;

/// A run's CPU accounts, in nanoseconds, for [`HostLoad::of`].
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuAccounts {
    /// The machine's busy time, from `/proc/stat`.
    pub busy_ns: u64,
    pub steal_ns: u64,
    /// All the machine's time, over all its CPUs.
    pub total_ns: u64,
    /// The server's, the load generator's.
    pub ours_ns: u64,
    /// Every other process's.
    pub others_ns: u64,
    /// The run's wall time.
    pub wall_ns: u64,
}

impl HostLoad {
    /// The load over a run.
    pub fn of(cpu: CpuAccounts) -> Self {
        let of_core = |ns: u64| 100.0 * ns as f64 / cpu.wall_ns.max(1) as f64;
        let steal_pct = 100.0 * cpu.steal_ns as f64 / cpu.total_ns.max(1) as f64;
        let outside_pct_of_core = of_core(cpu.others_ns);
        let untracked = cpu
            .busy_ns
            .saturating_sub(cpu.ours_ns.saturating_add(cpu.others_ns));
        HostLoad {
            steal_pct,
            outside_pct_of_core,
            untracked_pct_of_core: of_core(untracked),
            disturbed: outside_pct_of_core > DISTURBED_OUTSIDE_PCT
                || steal_pct > DISTURBED_STEAL_PCT,
        }
    }
}

/// One round of one workload: every subject once at every level, with the floor
/// measured at its start.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Round {
    pub workload: String,
    /// The round's number within its workload, from 0 (a run's [`RoundRun::round`]).
    pub index: usize,
    /// `iomodels floor` at the start of the round, in µs of CPU per request.
    pub floor_us_per_req: Option<f64>,
    /// The order the subjects ran in (rotated by one place each round).
    pub order: Vec<String>,
    /// db and queries: `pgbench -S` at each level, measured at the start of the round
    /// (after the floor): the reference of the round's x pgbench.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pgbench: Vec<super::db::Pgbench>,
}

/// Which CPUs the servers and the load generator were given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    pub server_cpus: Vec<usize>,
    pub client_cpus: Vec<usize>,
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
    /// The most descriptors one process may hold there (the hard RLIMIT_NOFILE the
    /// servers raise theirs to); absent in reports written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nofile: Option<u64>,
}

/// How a cell's rounds were disturbed: how many, and the worst of them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Disturbance {
    pub rounds: usize,
    /// The most CPU other processes took in one of them, in % of one core.
    pub worst_outside_pct: f64,
    /// The most steal in one of them, in % of the machine's time.
    pub worst_steal_pct: f64,
}

impl Disturbance {
    /// Of a cell's rounds; `None` where none was disturbed.
    pub fn of(cell: &Cell) -> Option<Disturbance> {
        let hit: Vec<&HostLoad> = cell
            .rounds
            .iter()
            .map(|r| &r.host)
            .filter(|h| h.disturbed)
            .collect();
        (!hit.is_empty()).then(|| Disturbance {
            rounds: hit.len(),
            worst_outside_pct: hit
                .iter()
                .map(|h| h.outside_pct_of_core)
                .fold(0.0, f64::max),
            worst_steal_pct: hit.iter().map(|h| h.steal_pct).fold(0.0, f64::max),
        })
    }
}

/// The floor of a workload's first round and of its last.
#[derive(Debug, Clone, PartialEq)]
pub struct FloorDrift {
    pub workload: String,
    pub first_us: f64,
    pub last_us: f64,
}

impl FloorDrift {
    /// The larger floor over the smaller.
    pub fn ratio(&self) -> f64 {
        self.first_us.max(self.last_us) / self.first_us.min(self.last_us)
    }
}

/// Everything `report.json` holds: one comparison.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Comparison {
    pub version: u32,
    pub command: String,
    pub machine: Machine,
    pub started_unix_s: u64,
    /// `iomodels floor` on this machine: the CPU (µs) per small request of a minimal
    /// server loop (one read, one write); the median of the rounds' floors. Each run's
    /// `x floor` is taken against its own round's floor. A reference, not a bound: a
    /// model can come out slightly below it.
    pub floor_us_per_req: Option<f64>,
    /// The floor of the first round, and of the last.
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
    /// The rounds, in the order they ran.
    #[serde(default)]
    pub rounds: Vec<Round>,
    /// Where the server and the load generator ran; `None` when they shared every CPU.
    #[serde(default)]
    pub placement: Option<Placement>,
    /// Which figure ranks the cells, and why, in one sentence.
    #[serde(default)]
    pub ranked_by: String,
    /// When two models share a tier, in one sentence.
    #[serde(default)]
    pub tier_rule: String,
    /// Where the CPU figures come from.
    #[serde(default)]
    pub cpu_source: String,
    /// The host the servers ran on (`ssh://...`), when not this machine: their CPU,
    /// memory and floor were measured there; `machine` is where the load came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_host: Option<String>,
    /// The hosts the load came from, when given (`--client-host`): each cell's runs are
    /// their runs merged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub client_hosts: Vec<String>,
    /// The work each request of the cpu and wait workloads asked of the servers; absent
    /// when the comparison ran neither.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub work: Option<super::work::WorkAmounts>,
    /// The database the db and queries workloads read; absent when the comparison ran
    /// neither.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<super::db::DbServer>,
}

/// The `version` of the `report.json` this build writes and reads.
pub const VERSION: u32 = 2;

impl Comparison {
    /// The descriptor limit that capped `cell`, if it did: a server of one process asked
    /// to hold more connections than one process may have descriptors.
    pub fn capped_by_descriptors(&self, cell: &Cell) -> Option<u64> {
        let nofile = self.machine.nofile?;
        let one_process = cell.figures.as_ref()?.median.processes == Some(1.0);
        (matches!(cell.workload.as_str(), "hold" | "idle")
            && one_process
            && cell.level as u64 > nofile)
            .then_some(nofile)
    }

    /// How many hosts ran the load at once (`--client-host`, repeated): each ran every
    /// cell's clients (hold: its connections), so a level counts them per host. 1 when
    /// the load came from one place. (`idle`'s silent connections are held from the
    /// machine compare runs on, once; its active clients run on every host.)
    pub fn load_hosts(&self) -> usize {
        self.client_hosts.len().max(1)
    }

    /// The clients a cell's load generators ran in all: [`active_clients`] on each of
    /// [`Self::load_hosts`].
    pub fn clients_in_all(&self, workload: &str, level: usize) -> usize {
        active_clients(workload, level).saturating_mul(self.load_hosts())
    }

    /// The connections a cell asked to hold in all: hold's level on each of
    /// [`Self::load_hosts`], idle's level once.
    pub fn connections_asked(&self, workload: &str, level: usize) -> usize {
        if workload == CompareWorkload::Hold.name() {
            level.saturating_mul(self.load_hosts())
        } else {
            level
        }
    }

    /// Did the servers share their CPUs with the load generator? They did unless
    /// `--pin separate` gave each its own, or one of them ran on another host.
    pub fn load_shares_server_cpus(&self) -> bool {
        self.placement.is_none() && self.server_host.is_none() && self.client_hosts.is_empty()
    }

    /// How far the floor moved between the first and the last round of one workload,
    /// for the workload where it moved most: the host's speed changed during the run
    /// (other load, a CPU's frequency) when its ratio is well above 1. Rounds of
    /// different workloads are not set against each other: each workload runs its own
    /// servers, and what they leave on the machine differs.
    pub fn floor_drift(&self) -> Option<FloorDrift> {
        let mut worst: Option<FloorDrift> = None;
        for (workload, _) in &self.workloads {
            let floors: Vec<f64> = self
                .rounds
                .iter()
                .filter(|r| &r.workload == workload)
                .filter_map(|r| r.floor_us_per_req)
                .collect();
            let (Some(&first_us), Some(&last_us)) = (floors.first(), floors.last()) else {
                continue;
            };
            let drift = FloorDrift {
                workload: workload.clone(),
                first_us,
                last_us,
            };
            if floors.len() > 1 && worst.as_ref().map_or(true, |w| drift.ratio() > w.ratio()) {
                worst = Some(drift);
            }
        }
        worst
    }

    /// The cells of one workload at one level, ranked: by tier, then by the ranking
    /// figure within a tier ([`super::tiers::rank_order`]), cells without a tier last.
    pub fn ranked(&self, workload: &str, level: usize) -> Vec<&Cell> {
        let mut cells: Vec<&Cell> = self
            .cells
            .iter()
            .filter(|c| c.workload == workload && c.level == level)
            .collect();
        cells.sort_by(|a, b| super::tiers::rank_order(a, b));
        cells
    }

    /// Gives every cell its tier by this build's rule, and says which rule in the
    /// report (compare on its cells; `iomodels report` again on a stored report's
    /// rounds).
    pub fn assign_tiers(&mut self) {
        super::tiers::assign(&mut self.cells);
        let workloads = self.workloads.iter().map(|(w, _)| w.as_str());
        (self.ranked_by, self.tier_rule) = super::ideal::rule_of(workloads);
    }

    /// The `pgbench` of one round of `workload` at `level`, if it was measured.
    pub fn pgbench(
        &self,
        workload: &str,
        round: usize,
        level: usize,
    ) -> Option<&super::db::Pgbench> {
        self.rounds
            .iter()
            .find(|r| r.workload == workload && r.index == round)?
            .pgbench
            .iter()
            .find(|p| p.level == level)
    }

    /// The median of `pgbench`'s lookups per second over the rounds of `workload` at
    /// `level`, and how many clients it ran (the fewest of the rounds).
    pub fn pgbench_median(&self, workload: &str, level: usize) -> Option<(f64, u32)> {
        let runs: Vec<&super::db::Pgbench> = self
            .rounds
            .iter()
            .filter(|r| r.workload == workload)
            .flat_map(|r| r.pgbench.iter().filter(|p| p.level == level))
            .collect();
        let mut tps: Vec<f64> = runs.iter().filter_map(|p| p.tps).collect();
        let clients = runs.iter().map(|p| p.clients).min()?;
        (!tps.is_empty()).then(|| (super::figures::median(&mut tps), clients))
    }

    /// The cell of one subject, workload and level, if the comparison has it.
    pub fn cell(&self, subject: &str, workload: &str, level: usize) -> Option<&Cell> {
        self.cells
            .iter()
            .find(|c| c.subject == subject && c.workload == workload && c.level == level)
    }

    /// How many cells of one workload and level share `tier`.
    pub fn tier_size(&self, workload: &str, level: usize, tier: usize) -> usize {
        self.cells
            .iter()
            .filter(|c| c.workload == workload && c.level == level && c.tier == Some(tier))
            .count()
    }

    /// Reads a `report.json`, refusing a file that is not one, or of another version, or
    /// whose figures or names no comparison writes ([`super::validate`]).
    pub fn load(path: &std::path::Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|err| format!("{}: cannot read it: {err}", path.display()))?;
        Self::from_json(&text).map_err(|err| format!("{}: {err}", path.display()))
    }

    /// A `report.json`'s text as a comparison, checked as [`Self::load`] says.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|err| format!("not JSON: {}", validate::brief(&err)))?;
        let version = value.get("version").and_then(serde_json::Value::as_u64);
        if value.get("cells").is_none() || version.is_none() {
            return Err("not a compare report (no version and cells)".to_string());
        }
        if version != Some(u64::from(VERSION)) {
            return Err(format!(
                "a version {} report; this build reads version {VERSION} (run compare again)",
                version.unwrap_or(0)
            ));
        }
        validate::document(&value).map_err(|err| format!("not a compare report: {err}"))?;
        let report: Self = serde_json::from_value(value)
            .map_err(|err| format!("not a compare report: {}", validate::brief(&err)))?;
        report
            .check_names()
            .map_err(|err| format!("not a compare report: {err}"))?;
        Ok(report)
    }

    /// Every workload, model and level the comparison names is one a comparison can
    /// have ([`super::validate`]): they become file names, links and table cells.
    fn check_names(&self) -> Result<(), String> {
        let at = |what: &str, err: String| format!("{what}: {err}");
        for (workload, levels) in &self.workloads {
            validate::workload(workload).map_err(|e| at("workloads", e))?;
            for &level in levels {
                validate::level(level).map_err(|e| at("workloads", e))?;
            }
        }
        for subject in &self.subjects {
            validate::subject(subject).map_err(|e| at("subjects", e))?;
        }
        for (i, cell) in self.cells.iter().enumerate() {
            let at = |e| format!("cells[{i}]: {e}");
            validate::workload(&cell.workload).map_err(at)?;
            validate::subject(&cell.subject).map_err(at)?;
            validate::level(cell.level).map_err(at)?;
        }
        for (i, round) in self.rounds.iter().enumerate() {
            let at = |e| format!("rounds[{i}]: {e}");
            validate::workload(&round.workload).map_err(at)?;
            round
                .order
                .iter()
                .try_for_each(|s| validate::subject(s).map_err(at))?;
        }
        for (i, stop) in self.stops.iter().enumerate() {
            let at = |e| format!("stops[{i}]: {e}");
            validate::workload(&stop.workload).map_err(at)?;
            validate::subject(&stop.subject).map_err(at)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::CompareWorkload;

    #[test]
    fn every_workload_is_parsed_back_from_its_name() {
        for workload in CompareWorkload::ALL {
            assert_eq!(workload.name().parse::<CompareWorkload>(), Ok(workload));
            let json = serde_json::to_string(&workload).unwrap();
            assert_eq!(json, format!("\"{}\"", workload.name()));
        }
        assert!("http_close".parse::<CompareWorkload>().is_err());
    }
}
