//! The ideal bound of the work workloads: the most requests per second any server could
//! serve, whatever its model, given what each request asks of it. The figure the `cpu`
//! and `wait` workloads rank by is a run's req/s over it, `x ideal` (higher is better,
//! 1.0 the best a model can do); a run's p99 latency is set beside the handler's own
//! time (the wait, or the burn).
//!
//! - `wait`, a wait of D, C closed-loop clients: each client has one request out at a
//!   time, and each takes D at the least, so C / D.
//! - `cpu`, W of CPU per request on K cores: K / W, less the cores the load generator
//!   takes when it runs on the server's CPUs (K_eff = K − its CPU seconds over the run's
//!   wall seconds, from the run itself), and no more than C requests burn at once:
//!   min(C, K_eff) / W.

use super::db::{RANKED_BY_DB, RULE_DB};
use super::figures::Figures;
use super::tiers::{RANKED_BY, RULE};
use super::work::WorkAmounts;

/// The least cores a server is taken to have once the load generator's share is taken
/// off: a load generator that took every core would leave a bound of zero.
const MIN_CORES: f64 = 0.1;

/// What the work workloads rank by, and why, added to [`RANKED_BY`] for a comparison
/// that ran them.
pub const RANKED_BY_WORK: &str = "cpu and wait rank by x ideal instead, the req/s a model served over the most any server could (wait: clients / the wait; cpu: the cores left by the load generator / the work), higher is better, because what a user of such a service feels is how much of it is served";

/// What the tier rule says of the work workloads, added to [`RULE`].
pub const RULE_WORK: &str =
    "for cpu and wait, the same rule on the reciprocal of x ideal, paired by round";

/// What ranks the cells of a comparison of `workloads`, and its tier rule (the work
/// and the database workloads each add their own).
pub fn rule_of<'a>(workloads: impl Iterator<Item = &'a str>) -> (String, String) {
    let workloads: Vec<&str> = workloads.collect();
    let (mut ranked_by, mut rule) = (RANKED_BY.to_string(), RULE.to_string());
    if workloads.iter().any(|w| super::work::is_work(w)) {
        ranked_by = format!("{ranked_by}; {RANKED_BY_WORK}");
        rule = format!("{rule}; {RULE_WORK}");
    }
    if workloads.iter().any(|w| super::db::is_db(w)) {
        ranked_by = format!("{ranked_by}; {RANKED_BY_DB}");
        rule = format!("{rule}; {RULE_DB}");
    }
    (ranked_by, rule)
}

/// The CPUs the servers had, for the `cpu` bound.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cores {
    /// How many CPUs the servers could run on.
    pub count: usize,
    /// Did the load generator run on them too (no `--pin separate`, no other host)?
    pub shared_with_load: bool,
}

/// The ideal bound of one cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    /// `clients / wait_s`.
    Wait { clients: usize, wait_s: f64 },
    /// `min(clients, cores less the load's share) / work_s`.
    Cpu {
        clients: usize,
        work_s: f64,
        cores: Cores,
    },
}

impl Bound {
    /// The bound of `workload` at `level` clients, with `amounts` of work per request;
    /// `cores` are the servers' CPUs (needed for `cpu`, unknown for a server on another
    /// host). `None` for a workload that asks no work, or a `cpu` cell without cores.
    pub fn of(
        workload: &str,
        level: usize,
        amounts: &WorkAmounts,
        cores: Option<Cores>,
    ) -> Option<Bound> {
        match workload {
            "wait" => Some(Bound::Wait {
                clients: level,
                wait_s: amounts.handler_s(workload)?,
            }),
            "cpu" => Some(Bound::Cpu {
                clients: level,
                work_s: amounts.handler_s(workload)?,
                cores: cores?,
            }),
            _ => None,
        }
    }

    /// The most requests per second, when the load generator used `client_cores` of CPU
    /// per wall second over the run.
    pub fn per_s(&self, client_cores: f64) -> f64 {
        match *self {
            Bound::Wait { clients, wait_s } => clients as f64 / wait_s,
            Bound::Cpu {
                clients,
                work_s,
                cores,
            } => {
                let taken = if cores.shared_with_load {
                    client_cores
                } else {
                    0.0
                };
                let left = (cores.count as f64 - taken).max(MIN_CORES);
                left.min(clients as f64) / work_s
            }
        }
    }

    /// A run's req/s over the bound during it.
    pub fn x_ideal(&self, figures: &Figures) -> f64 {
        figures.throughput_per_s / self.per_s(figures.client_cpu_share)
    }
}

/// A run's p99 latency over the handler's own time (`handler_s`): 1.0 is a request that
/// waited for nothing but its own work.
pub fn p99_over_handler(figures: &Figures, handler_s: f64) -> f64 {
    figures.p99_us / (handler_s * 1e6)
}

/// The cores a server used per wall second over a run: its CPU per request times its
/// requests per second.
pub fn server_cores(figures: &Figures) -> Option<f64> {
    Some(figures.cpu_us_per_req? * figures.throughput_per_s / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    const AMOUNTS: WorkAmounts = WorkAmounts {
        cpu_work_us: 100.0,
        wait_ms: 10.0,
    };

    fn served(throughput_per_s: f64, client_cpu_share: f64) -> Figures {
        Figures {
            throughput_per_s,
            client_cpu_share,
            p99_us: 15_000.0,
            ..Figures::default()
        }
    }

    #[test]
    fn the_rule_speaks_of_x_ideal_only_when_a_work_workload_ran() {
        let (ranked_by, rule) = rule_of(["echo", "http"].into_iter());
        assert_eq!((ranked_by.as_str(), rule.as_str()), (RANKED_BY, RULE));
        let (ranked_by, rule) = rule_of(["http", "wait"].into_iter());
        assert!(ranked_by.starts_with(RANKED_BY) && ranked_by.ends_with(RANKED_BY_WORK));
        assert!(rule.ends_with(RULE_WORK));
        let (ranked_by, rule) = rule_of(["wait", "db"].into_iter());
        assert!(ranked_by.contains(RANKED_BY_WORK) && ranked_by.ends_with(RANKED_BY_DB));
        assert!(rule.ends_with(RULE_DB));
    }

    #[test]
    fn a_wait_of_d_with_c_clients_is_bounded_at_c_over_d() {
        let bound = Bound::of("wait", 100, &AMOUNTS, None).unwrap();
        assert_eq!(bound.per_s(0.7), 10_000.0, "the client's CPU plays no part");
        assert!((bound.x_ideal(&served(9_500.0, 0.7)) - 0.95).abs() < 1e-12);
        let thousand = Bound::of("wait", 1000, &AMOUNTS, None).unwrap();
        assert_eq!(thousand.per_s(0.0), 100_000.0);
        assert_eq!(p99_over_handler(&served(0.0, 0.0), 0.01), 1.5);
    }

    #[test]
    fn cpu_work_is_bounded_by_the_cores_the_load_generator_leaves() {
        let shared = Cores {
            count: 2,
            shared_with_load: true,
        };
        let bound = Bound::of("cpu", 100, &AMOUNTS, Some(shared)).unwrap();
        // The client took 0.4 of a core: 1.6 cores of 100 µs each.
        assert!((bound.per_s(0.4) - 16_000.0).abs() < 1e-6);
        assert!((bound.x_ideal(&served(8_000.0, 0.4)) - 0.5).abs() < 1e-12);
        let apart = Cores {
            shared_with_load: false,
            ..shared
        };
        let pinned = Bound::of("cpu", 100, &AMOUNTS, Some(apart)).unwrap();
        assert!((pinned.per_s(0.4) - 20_000.0).abs() < 1e-6, "its own CPU");
        assert!(bound.per_s(5.0) > 0.0, "never zero");
    }

    #[test]
    fn fewer_clients_than_cores_burn_on_as_many_cores_as_there_are_clients() {
        let cores = Cores {
            count: 8,
            shared_with_load: false,
        };
        let one = Bound::of("cpu", 1, &AMOUNTS, Some(cores)).unwrap();
        assert!((one.per_s(0.0) - 10_000.0).abs() < 1e-6);
    }

    #[test]
    fn no_bound_without_work_or_without_the_servers_cores() {
        assert_eq!(Bound::of("http", 100, &AMOUNTS, None), None);
        assert_eq!(Bound::of("cpu", 100, &AMOUNTS, None), None);
    }

    #[test]
    fn the_cores_a_server_used_are_its_cpu_per_request_times_its_rate() {
        let busy = Figures {
            cpu_us_per_req: Some(110.0),
            throughput_per_s: 15_000.0,
            ..Figures::default()
        };
        assert!((server_cores(&busy).unwrap() - 1.65).abs() < 1e-9);
        assert_eq!(server_cores(&Figures::default()), None);
    }
}
