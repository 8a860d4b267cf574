//! Which runs were measured while other processes took the machine: said once, with the
//! worst figure and the models it touched most, so the notes under the tables are not
//! the only place it shows.

use super::Finding;
use crate::results::comparison::{
    Comparison, Disturbance, DISTURBED_OUTSIDE_PCT, DISTURBED_STEAL_PCT,
};

/// How many models the finding names, the most disturbed first.
const NAMED: usize = 3;

/// "Interference": how many of the runs were disturbed, how badly, and where most.
pub fn interference(report: &Comparison) -> Option<Finding> {
    let runs: usize = report.cells.iter().map(|c| c.rounds.len()).sum();
    let mut by_subject: Vec<(&str, usize)> = Vec::new();
    let (mut disturbed, mut worst, mut steal) = (0usize, 0.0f64, 0.0f64);
    for cell in &report.cells {
        let Some(d) = Disturbance::of(cell) else {
            continue;
        };
        disturbed += d.rounds;
        worst = worst.max(d.worst_outside_pct);
        steal = steal.max(d.worst_steal_pct);
        match by_subject.iter_mut().find(|(s, _)| *s == cell.subject) {
            Some((_, count)) => *count += d.rounds,
            None => by_subject.push((&cell.subject, d.rounds)),
        }
    }
    if disturbed == 0 {
        return None;
    }
    by_subject.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let most: Vec<String> = by_subject
        .iter()
        .take(NAMED)
        .map(|(s, n)| format!("{s} ({n})"))
        .collect();
    Some(Finding {
        topic: "interference".into(),
        text: format!(
            "{disturbed} of {runs} runs {} measured under interference: other processes took more than {DISTURBED_OUTSIDE_PCT:.0}% of a core, or the hypervisor more than {DISTURBED_STEAL_PCT:.0}% of the machine (at worst {worst:.0}% of a core and {steal:.1}% steal); most for {}. Their rounds count in the medians; a figure whose rounds disagree says so in its spread.",
            if disturbed == 1 { "was" } else { "were" },
            most.join(", ")
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::comparison::HostLoad;
    use crate::results::testing::{cell_of_rounds, costs, report};

    #[test]
    fn disturbed_runs_are_counted_and_the_most_touched_named() {
        let three = [costs(1.0), costs(1.1), costs(1.2)];
        let mut report = report(
            &[("http", &[10])],
            vec![
                cell_of_rounds("epoll", "http", 10, 1, &three),
                cell_of_rounds("threads", "http", 10, 2, &three),
            ],
        );
        assert_eq!(interference(&report), None, "no disturbed run, no finding");
        for cell in &mut report.cells {
            for (i, r) in cell.rounds.iter_mut().enumerate() {
                let hit = cell.subject == "threads" || i == 0;
                r.host = HostLoad {
                    outside_pct_of_core: if hit { 14.0 } else { 1.0 },
                    disturbed: hit,
                    ..HostLoad::default()
                };
            }
        }
        let f = interference(&report).unwrap();
        let rounds = report.cells[0].rounds.len();
        let expected = rounds + 1;
        assert!(
            f.text
                .starts_with(&format!("{expected} of {} runs", 2 * rounds)),
            "{}",
            f.text
        );
        assert!(f.text.contains("most for threads"), "{}", f.text);
        assert!(f.text.contains("14% of a core"), "{}", f.text);
    }
}
