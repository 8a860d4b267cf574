//! Tiers: which models the rounds of a comparison can tell apart, and the order a
//! cell's models rank in.
//!
//! **The ranking figure** is the server's CPU per request over the floor of the same
//! round (`x floor`): it measures the server. Requests per second do not: when the load
//! generator sets the pace, req/s is the client's speed, and every fast server shows the
//! same number.
//!
//! **Classes come first.** A model that served every client with no error (and held
//! every connection asked for) ranks above one that starved clients, failed requests or
//! held fewer, whatever either cost; a cell whose server failed in some round comes
//! after both, and a cell without a CPU figure is not ranked. A model that starves
//! clients never ranks above one that serves them all.
//!
//! **The tier rule** (Scott-Knott, after Tantithamthavorn et al., IEEE TSE 2018, adapted
//! to rounds paired across models). Within a class, models are sorted by their median
//! ranking figure. The sorted list is split where the gap between neighbours' medians is
//! largest, then each side again, recursively. A split stands when the rounds tell the two
//! neighbours at it apart ([`told_apart`]), or when the group would otherwise span more
//! than [`MAX_SPAN`] from its cheapest member to its costliest; else the group is a tier.
//! So tiers partition the sorted list (they never overlap, nothing chains one small step
//! at a time) and no tier spans more than [`MAX_SPAN`]: a tier reads as "these cost about
//! the same". Splitting at the largest gap puts a cut where a rerun is least likely to
//! swap the models on either side: in reruns, cutting at the largest between-group sum
//! of squares, as Scott-Knott does, or where the cut's expected swaps are fewest
//! reversed as many pairs or more (the runs it was chosen on, and how each rule fared:
//! docs/results.md, *How far a ranking can be trusted*).
//!
//! The rounds tell a costlier model B apart from A when, over the rounds both were
//! measured in, B's median cost is at least [`MIN_EFFECT`] above A's (as the median of
//! the per-round ratios B/A) and either B cost more in enough rounds that a one-sided
//! sign test puts the chance of it under equal costs at [`SIGN_TEST_P`] or less (all 5 of
//! 5 rounds, 7 of 8, 8 of 10...), or B cost at least [`CLEAR_RATIO`] times A in every
//! round, a gap no noise of a round produces on its own (how a one-round `--quick` run
//! still has tiers). Pairing by round cancels what a round shared: a slow stretch of the
//! host hurts both.
//!
//! **The work workloads** (`cpu`, `wait`) rank by x ideal instead, the share of the
//! ideal bound a model served ([`super::ideal`]), where higher is better: the same
//! rule runs on its reciprocal, a cost, so "B costs 5% more than A" there reads "A
//! served 5% more of the ideal than B", and 1.25x apart is 1.25x apart. The database
//! workloads (`db`, `queries`) rank the same way by x pgbench, the share of
//! PostgreSQL's own rate a model passed on ([`super::db`]).

use std::cmp::Ordering;
use std::ops::Range;

use super::comparison::Cell;
use super::figures::Figures;

/// The least difference of median cost (5%) that separates two tiers.
pub const MIN_EFFECT: f64 = 0.05;
/// The most chance (one-sided sign test) that the rounds' order arose from equal costs.
pub const SIGN_TEST_P: f64 = 0.05;
/// A ratio that separates two models on its own when every round shows it.
pub const CLEAR_RATIO: f64 = 1.25;
/// The most a tier spans: its costliest member's median ranking figure over its
/// cheapest's.
pub const MAX_SPAN: f64 = 1.25;

/// What the tier rule says, for the report.
pub const RULE: &str = "models sorted by median x floor are split at the largest gap between neighbours, then each side again (Scott-Knott); a split stands where the rounds tell those two neighbours apart (the costlier one's CPU per request, paired by round, at least 5% higher in the median and higher in enough rounds for a one-sided sign test at p <= 0.05, or at least 1.25x in every round) or where a tier would otherwise span more than 1.25x";

/// What ranks the cells, and why.
pub const RANKED_BY: &str = "models rank by the server's CPU per request over the floor measured in the same round (x floor), because it measures the server while req/s is often the load generator's pace; a model that starved clients, failed requests or held fewer connections than asked never ranks above one that served them all";

/// A run's cost in a cell of `workload`, the per-round figure tiers compare (lower is
/// better): the reciprocal of x ideal for the work workloads, of x pgbench for the
/// database workloads, CPU per request for the others (the ratio of two runs' x floor in one round, whose floor they share).
fn round_cost(workload: &str, figures: &Figures) -> Option<f64> {
    if super::work::is_work(workload) {
        figures.x_ideal.filter(|&x| x > 0.0).map(|x| 1.0 / x)
    } else if super::db::is_db(workload) {
        figures.x_pgbench.filter(|&x| x > 0.0).map(|x| 1.0 / x)
    } else {
        figures.cpu_us_per_req
    }
}

/// A median's cost in a cell of `workload`, as a round's cost but against the floor:
/// the reciprocal of x ideal or x pgbench, or x floor (CPU per request without a
/// floor). What a cell ranks by, as a cost.
pub fn median_cost(workload: &str, figures: &Figures) -> Option<f64> {
    if super::work::is_work(workload) || super::db::is_db(workload) {
        round_cost(workload, figures)
    } else {
        figures.ranking()
    }
}

/// Where a cell stands before tiers: lower is better.
fn class(cell: &Cell) -> u8 {
    let Some(spread) = cell.figures else { return 4 };
    if median_cost(&cell.workload, &spread.median).is_none() {
        return 3;
    }
    if cell.error.is_some() {
        return 2;
    }
    u8::from(starved_or_failed(&spread.median) || held_short(cell))
}

/// Did a cell hold fewer connections than its level asked for (select, whose ceiling
/// is FD_SETSIZE, beside ten thousand idle connections)?
pub fn held_short(cell: &Cell) -> bool {
    let held = cell.figures.and_then(|s| s.median.held);
    held.is_some_and(|held| held < cell.level as f64)
}

/// Did a run (or a median) leave a client without a reply, or fail a request?
pub fn starved_or_failed(figures: &Figures) -> bool {
    figures.starved.unwrap_or(0.0) > 0.0 || figures.errors > 0.0
}

/// The median ranking figure of a cell as a cost (x floor, or CPU per request without
/// a floor; the reciprocal of x ideal for the work workloads).
fn key(cell: &Cell) -> f64 {
    cell.figures
        .and_then(|s| median_cost(&cell.workload, &s.median))
        .unwrap_or(f64::INFINITY)
}

/// The order cells rank in: by tier, then class, then median ranking figure.
pub fn rank_order(a: &Cell, b: &Cell) -> Ordering {
    let tier = |c: &Cell| c.tier.unwrap_or(usize::MAX);
    tier(a)
        .cmp(&tier(b))
        .then(class(a).cmp(&class(b)))
        .then(key(a).total_cmp(&key(b)))
}

/// A figure of a run, as a cost (lower is better), that two cells' rounds are paired
/// on.
pub type RoundFigure<'a> = &'a dyn Fn(&Figures) -> Option<f64>;

/// The per-round ratios `worse / better` of `cost` over the rounds both were measured
/// in.
fn paired_ratios(better: &Cell, worse: &Cell, cost: RoundFigure) -> Vec<f64> {
    better
        .rounds
        .iter()
        .filter_map(|a| {
            let b = worse.rounds.iter().find(|b| b.round == a.round)?;
            let (ca, cb) = (cost(&a.figures)?, cost(&b.figures)?);
            (ca > 0.0).then(|| cb / ca)
        })
        .collect()
}

/// The chance of `k` or more heads in `n` fair coin tosses.
fn sign_test_p(k: usize, n: usize) -> f64 {
    let choose =
        |n: usize, k: usize| (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64);
    (k..=n).map(|i| choose(n, i)).sum::<f64>() / 2f64.powi(n as i32)
}

/// Whether the rounds tell `worse` apart from `better` by the figure their workload
/// ranks by (see the module documentation).
pub fn told_apart(better: &Cell, worse: &Cell) -> bool {
    let workload = better.workload.as_str();
    told_apart_by(better, worse, &|f| round_cost(workload, f))
}

/// Whether the rounds tell `worse` apart from `better` by `cost`, a figure of each run
/// where lower is better, with the rule of [`told_apart`]: what the findings use to say
/// when two figures other than the ranking one cannot be told apart.
pub fn told_apart_by(better: &Cell, worse: &Cell, cost: RoundFigure) -> bool {
    let mut ratios = paired_ratios(better, worse, cost);
    if ratios.is_empty() {
        return false;
    }
    let higher = ratios.iter().filter(|&&r| r > 1.0).count();
    let clear = ratios.iter().all(|&r| r >= CLEAR_RATIO);
    let median = super::figures::median(&mut ratios);
    median >= 1.0 + MIN_EFFECT && (clear || sign_test_p(higher, ratios.len()) <= SIGN_TEST_P)
}

/// Gives every cell with figures a tier, cell by cell of each workload and level.
pub fn assign(cells: &mut [Cell]) {
    let mut groups: Vec<(String, usize)> = cells
        .iter()
        .map(|c| (c.workload.clone(), c.level))
        .collect();
    groups.sort();
    groups.dedup();
    for (workload, level) in groups {
        let mut members: Vec<usize> = (0..cells.len())
            .filter(|&i| cells[i].workload == workload && cells[i].level == level)
            .collect();
        members.sort_by(|&a, &b| {
            class(&cells[a])
                .cmp(&class(&cells[b]))
                .then(key(&cells[a]).total_cmp(&key(&cells[b])))
        });
        assign_group(cells, &members);
    }
}

/// Tiers for one cell's models, given in rank order: each class of models is
/// partitioned on its own, classes in order.
fn assign_group(cells: &mut [Cell], order: &[usize]) {
    let ranked: Vec<usize> = order
        .iter()
        .copied()
        .filter(|&i| class(&cells[i]) < 3)
        .collect();
    let mut tiers: Vec<&[usize]> = Vec::new();
    for same_class in ranked.chunk_by(|&a, &b| class(&cells[a]) == class(&cells[b])) {
        let costs: Vec<f64> = same_class.iter().map(|&i| key(&cells[i])).collect();
        let apart = |a: usize, b: usize| told_apart(&cells[same_class[a]], &cells[same_class[b]]);
        tiers.extend(
            partition(&costs, &apart)
                .into_iter()
                .map(|g| &same_class[g]),
        );
    }
    for &i in order {
        cells[i].tier = None;
    }
    for (tier, members) in tiers.iter().enumerate() {
        for &i in *members {
            cells[i].tier = Some(tier + 1);
        }
    }
}

/// How many times `lo` the cost `hi` is (1 where `hi` is not above `lo`).
fn span(lo: f64, hi: f64) -> f64 {
    if hi <= lo {
        1.0
    } else if lo <= 0.0 {
        f64::INFINITY
    } else {
        hi / lo
    }
}

/// The tiers of costs sorted cheapest first, as ranges of their indices: split at the
/// largest gap between neighbours, recursively, where `apart(i, i + 1)` says the rounds
/// tell neighbours `i` and `i + 1` apart or the group spans more than [`MAX_SPAN`].
pub fn partition(costs: &[f64], apart: &dyn Fn(usize, usize) -> bool) -> Vec<Range<usize>> {
    let mut tiers = Vec::new();
    split(costs, 0..costs.len(), apart, &mut tiers);
    tiers
}

/// [`partition`] of one group, `range` of `costs`, appended to `tiers`.
fn split(
    costs: &[f64],
    range: Range<usize>,
    apart: &dyn Fn(usize, usize) -> bool,
    tiers: &mut Vec<Range<usize>>,
) {
    if range.len() < 2 {
        tiers.extend((!range.is_empty()).then_some(range));
        return;
    }
    let gap = |i: &usize| span(costs[i - 1], costs[*i]);
    let cut = (range.start + 1..range.end)
        .max_by(|a, b| gap(a).total_cmp(&gap(b)))
        .expect("a group of two or more has a cut");
    let too_wide = span(costs[range.start], costs[range.end - 1]) > MAX_SPAN;
    if too_wide || apart(cut - 1, cut) {
        split(costs, range.start..cut, apart, tiers);
        split(costs, cut..range.end, apart, tiers);
    } else {
        tiers.push(range);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::comparison::{HostLoad, RoundRun};
    use crate::results::figures::{Figures, Spread};

    fn cell(name: &str, costs: &[f64], starved: f64) -> Cell {
        let rounds: Vec<RoundRun> = costs
            .iter()
            .enumerate()
            .map(|(round, &cost)| RoundRun {
                round,
                figures: Figures {
                    cpu_us_per_req: Some(cost),
                    x_floor: Some(cost / 5.0),
                    starved: Some(starved),
                    ..Figures::default()
                },
                host: HostLoad::default(),
            })
            .collect();
        let all: Vec<Figures> = rounds.iter().map(|r| r.figures).collect();
        Cell {
            subject: name.into(),
            workload: "http".into(),
            level: 10,
            runs: Vec::new(),
            rounds,
            figures: Spread::of(&all),
            tier: None,
            error: None,
            server_said: Vec::new(),
        }
    }

    fn tiers(cells: &mut [Cell]) -> Vec<(String, Option<usize>)> {
        assign(cells);
        cells.iter().map(|c| (c.subject.clone(), c.tier)).collect()
    }

    #[test]
    fn the_sign_test_of_five_rounds() {
        assert!((sign_test_p(5, 5) - 1.0 / 32.0).abs() < 1e-12);
        assert!((sign_test_p(4, 5) - 6.0 / 32.0).abs() < 1e-12);
        assert_eq!(sign_test_p(0, 3), 1.0);
    }

    #[test]
    fn models_within_noise_share_a_tier_and_clear_gaps_do_not() {
        let mut cells = [
            cell("a", &[10.0, 10.2, 9.9, 10.1, 10.0], 0.0),
            cell("b", &[10.3, 10.0, 10.2, 9.8, 10.4], 0.0),
            cell("c", &[13.0, 13.1, 12.8, 13.4, 13.0], 0.0),
            cell("d", &[40.0, 41.0, 39.0, 40.0, 42.0], 0.0),
        ];
        let t = tiers(&mut cells);
        assert_eq!(t[0].1, Some(1));
        assert_eq!(t[1].1, Some(1), "b is within noise of a: {t:?}");
        assert_eq!(t[2].1, Some(2));
        assert_eq!(t[3].1, Some(3));
    }

    #[test]
    fn a_cheaper_model_that_starves_clients_ranks_below_one_that_serves_them() {
        let mut cells = [
            cell("starves", &[5.0, 5.0, 5.0], 90.0),
            cell("serves", &[20.0, 21.0, 19.0], 0.0),
        ];
        let t = tiers(&mut cells);
        assert_eq!(t[1], ("serves".to_string(), Some(1)));
        assert_eq!(t[0], ("starves".to_string(), Some(2)));
        cells.sort_by(rank_order);
        assert_eq!(cells[0].subject, "serves");
    }

    #[test]
    fn a_model_that_held_fewer_connections_ranks_below_those_that_held_all() {
        let holding = |name: &str, cost: f64, held: f64| {
            let mut c = cell(name, &[cost], 0.0);
            c.workload = "idle".into();
            c.level = 10_000;
            c.figures.as_mut().unwrap().median.held = Some(held);
            c
        };
        let mut cells = [
            holding("select", 6.0, 960.0),
            holding("poll", 40.0, 10_000.0),
        ];
        assign(&mut cells);
        cells.sort_by(rank_order);
        assert_eq!(cells[0].subject, "poll");
        assert!(held_short(&cells[1]));
    }

    #[test]
    fn one_round_separates_only_clear_gaps() {
        let mut cells = [
            cell("a", &[10.0], 0.0),
            cell("b", &[11.0], 0.0),
            cell("c", &[30.0], 0.0),
        ];
        let t = tiers(&mut cells);
        assert_eq!(
            t.iter().map(|x| x.1).collect::<Vec<_>>(),
            [Some(1), Some(1), Some(2)]
        );
    }

    #[test]
    fn rounds_that_disagree_do_not_separate() {
        // b's median is 8% higher, but it was cheaper in two of five rounds.
        let a = cell("a", &[10.0, 10.0, 10.0, 10.0, 10.0], 0.0);
        let b = cell("b", &[10.8, 9.0, 10.9, 9.5, 11.0], 0.0);
        assert!(!told_apart(&a, &b));
        let c = cell("c", &[10.8, 10.6, 10.9, 10.7, 11.0], 0.0);
        assert!(told_apart(&a, &c));
        assert!(!told_apart(&c, &a), "only a costlier model is told apart");
    }

    #[test]
    fn a_chain_of_small_steps_is_cut_so_no_tier_spans_more_than_the_limit() {
        // Each model 8% above the last, the rounds disagreeing on every neighbour: the
        // old rule chained all seven into one tier, 1.59x wide.
        let noisy = |base: f64| [base * 1.1, base * 0.9, base * 1.05, base * 0.97, base];
        let mut cells: Vec<Cell> = (0..7)
            .map(|i| {
                let base = 10.0 * 1.08f64.powi(i);
                cell(&format!("m{i}"), &noisy(base), 0.0)
            })
            .collect();
        let rotated = |c: &mut Cell, by: usize| {
            let costs: Vec<f64> = c
                .rounds
                .iter()
                .map(|r| r.figures.cpu_us_per_req.unwrap())
                .collect();
            for (r, round) in c.rounds.iter_mut().enumerate() {
                round.figures.cpu_us_per_req = Some(costs[(r + by) % costs.len()]);
            }
        };
        for (i, c) in cells.iter_mut().enumerate() {
            rotated(c, i);
        }
        assign(&mut cells);
        let tiers: Vec<usize> = cells.iter().map(|c| c.tier.unwrap()).collect();
        assert!(tiers.windows(2).all(|w| w[0] <= w[1]), "{tiers:?}");
        assert!(*tiers.last().unwrap() >= 2, "{tiers:?}");
        for tier in 1..=*tiers.last().unwrap() {
            let members: Vec<f64> = cells
                .iter()
                .filter(|c| c.tier == Some(tier))
                .map(key)
                .collect();
            let (lo, hi) = (members[0], members[members.len() - 1]);
            assert!(hi / lo <= MAX_SPAN, "tier {tier}: {lo}..{hi}");
        }
    }

    #[test]
    fn a_split_goes_where_the_gap_is_largest() {
        let never = |_: usize, _: usize| false;
        // 1.0 to 1.4 is too wide; the largest gap is between 1.05 and 1.3.
        let tiers = partition(&[1.0, 1.02, 1.05, 1.3, 1.4], &never);
        assert_eq!(tiers, [0..3, 3..5]);
        let always = |_: usize, _: usize| true;
        assert_eq!(partition(&[1.0, 1.1, 1.2], &always), [0..1, 1..2, 2..3]);
        assert_eq!(partition(&[1.0, 1.1, 1.2], &never).len(), 1, "one tier");
        assert!(partition(&[], &never).is_empty());
    }

    proptest::proptest! {
        #[test]
        fn tiers_cover_every_model_in_order_and_none_spans_more_than_the_limit(
            mut costs in proptest::collection::vec(0.5f64..10.0, 0..30),
            told in proptest::collection::vec(proptest::bool::ANY, 30),
        ) {
            costs.sort_by(f64::total_cmp);
            let apart = |a: usize, _: usize| told[a];
            let tiers = partition(&costs, &apart);
            let mut next = 0;
            for tier in &tiers {
                proptest::prop_assert_eq!(tier.start, next);
                proptest::prop_assert!(!tier.is_empty());
                let span = costs[tier.end - 1] / costs[tier.start];
                proptest::prop_assert!(span <= MAX_SPAN, "{:?} spans {}", tier, span);
                next = tier.end;
            }
            proptest::prop_assert_eq!(next, costs.len());
        }
    }

    /// A cell of the wait workload whose rounds served `x` of the ideal, at a CPU per
    /// request that would rank it the other way round.
    fn waited(name: &str, x: &[f64], cpu: f64) -> Cell {
        let mut c = cell(name, &vec![cpu; x.len()], 0.0);
        c.workload = "wait".into();
        for (round, &x) in c.rounds.iter_mut().zip(x) {
            round.figures.x_ideal = Some(x);
        }
        let all: Vec<Figures> = c.rounds.iter().map(|r| r.figures).collect();
        c.figures = Spread::of(&all);
        c
    }

    #[test]
    fn the_work_workloads_rank_by_x_ideal_the_highest_first() {
        let mut cells = [
            waited("epoll:--offload=0", &[0.0099, 0.0098, 0.0099], 10.0),
            waited("async", &[0.93, 0.95, 0.92], 20.0),
            waited("threads", &[0.95, 0.96, 0.94], 40.0),
            waited("epoll:--offload=8", &[0.079, 0.078, 0.08], 30.0),
        ];
        let t = tiers(&mut cells);
        assert_eq!(
            t.iter().map(|x| x.1).collect::<Vec<_>>(),
            [Some(3), Some(1), Some(1), Some(2)],
            "{t:?}"
        );
        assert!(
            told_apart(&cells[3], &cells[0]),
            "8 pool threads serve more"
        );
        assert!(!told_apart(&cells[0], &cells[3]));
        assert!(
            !told_apart(&cells[2], &cells[1]),
            "within the rounds' noise"
        );
        cells.sort_by(rank_order);
        let order: Vec<&str> = cells.iter().map(|c| c.subject.as_str()).collect();
        assert_eq!(
            order,
            ["threads", "async", "epoll:--offload=8", "epoll:--offload=0"]
        );
    }

    #[test]
    fn the_database_workloads_rank_by_x_pgbench_the_highest_first() {
        let read = |name: &str, x: &[f64], cpu: f64| {
            let mut c = waited(name, &vec![0.5; x.len()], cpu);
            c.workload = "db".into();
            for (round, &x) in c.rounds.iter_mut().zip(x) {
                round.figures.x_ideal = None;
                round.figures.x_pgbench = Some(x);
            }
            let all: Vec<Figures> = c.rounds.iter().map(|r| r.figures).collect();
            c.figures = Spread::of(&all);
            c
        };
        let mut cells = [
            read("threads", &[0.61, 0.60, 0.62], 10.0),
            read("epoll:--offload=8", &[0.85, 0.86, 0.84], 30.0),
            read("async", &[0.84, 0.85, 0.86], 40.0),
        ];
        let t = tiers(&mut cells);
        assert_eq!(
            t.iter().map(|x| x.1).collect::<Vec<_>>(),
            [Some(2), Some(1), Some(1)],
            "{t:?}"
        );
        cells.sort_by(rank_order);
        assert_eq!(cells[2].subject, "threads", "the least CPU ranks last here");
    }

    #[test]
    fn a_cell_without_figures_has_no_tier() {
        let mut failed = cell("failed", &[], 0.0);
        failed.error = Some("server died".into());
        let mut cells = [cell("a", &[10.0], 0.0), failed];
        let t = tiers(&mut cells);
        assert_eq!(t[1].1, None);
    }
}
