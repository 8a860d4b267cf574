//! Comparisons made by hand for the tests of the layers above: cells with one run of
//! given figures, or with rounds, in a report with given workloads.

use super::comparison::{Cell, Comparison, HostLoad, Machine, RoundRun};
use super::figures::{Figures, Spread};

/// A cell with one run of these figures.
pub fn cell(subject: &str, workload: &str, level: usize, tier: usize, figures: Figures) -> Cell {
    Cell {
        subject: subject.into(),
        workload: workload.into(),
        level,
        runs: Vec::new(),
        rounds: Vec::new(),
        figures: Spread::of(&[figures]),
        tier: Some(tier),
        error: None,
        server_said: Vec::new(),
    }
}

/// A cell measured in rounds 0, 1, ... with these figures, one round each: what the
/// tiers and [`super::tiers::told_apart`] compare.
pub fn cell_of_rounds(
    subject: &str,
    workload: &str,
    level: usize,
    tier: usize,
    each: &[Figures],
) -> Cell {
    let rounds = each
        .iter()
        .enumerate()
        .map(|(round, &figures)| RoundRun {
            round,
            figures,
            host: HostLoad::default(),
        })
        .collect();
    Cell {
        rounds,
        figures: Spread::of(each),
        ..cell(subject, workload, level, tier, Figures::default())
    }
}

/// Figures of a run that served every client at `x` times a floor of 5 µs.
pub fn costs(x: f64) -> Figures {
    Figures {
        throughput_per_s: 1000.0,
        cpu_us_per_req: Some(x * 5.0),
        x_floor: Some(x),
        starved: Some(0.0),
        ..Figures::default()
    }
}

/// [`costs`] of a run that held `held` connections.
pub fn holding(held: f64, x: f64) -> Figures {
    Figures {
        held: Some(held),
        ..costs(x)
    }
}

/// A report of these cells, with a floor of 5 µs.
pub fn report(workloads: &[(&str, &[usize])], cells: Vec<Cell>) -> Comparison {
    Comparison {
        version: 2,
        command: "iomodels compare".into(),
        machine: Machine {
            cpus: 2,
            kernel: "Linux".into(),
            cpu_model: "cpu".into(),
            memory_gib: 1.0,
            nofile: Some(20_000),
        },
        started_unix_s: 0,
        floor_us_per_req: Some(5.0),
        floor_before_us_per_req: None,
        floor_after_us_per_req: None,
        wall_s: 1.0,
        duration_ms: 400,
        repeat: 1,
        workloads: workloads
            .iter()
            .map(|(w, l)| (w.to_string(), l.to_vec()))
            .collect(),
        subjects: Vec::new(),
        cells,
        stops: Vec::new(),
        rounds: Vec::new(),
        placement: None,
        ranked_by: String::new(),
        tier_rule: String::new(),
        cpu_source: String::new(),
        server_host: None,
        client_hosts: Vec::new(),
        work: None,
        database: None,
    }
}
