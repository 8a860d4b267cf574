//! The memory finding: what one more held connection costs the server, least and most,
//! at the most connections measured.

use super::Finding;
use crate::report::grouped;
use crate::results::comparison::Comparison;

/// Memory per held connection, least and most, at the most connections measured.
pub(super) fn memory(report: &Comparison) -> Option<Finding> {
    let (workload, levels) = report
        .workloads
        .iter()
        .find(|(w, _)| w == "hold")
        .or_else(|| report.workloads.iter().find(|(w, _)| w == "idle"))?;
    let level = *levels.last()?;
    let mut per_conn: Vec<(&str, f64)> = Vec::new();
    let mut fell_short: Vec<String> = Vec::new();
    for cell in report
        .cells
        .iter()
        .filter(|c| &c.workload == workload && c.level == level)
    {
        let Some(m) = cell.figures.map(|s| s.median) else {
            continue;
        };
        let (Some(held), Some(bytes)) = (m.held, m.private_per_conn_b) else {
            continue;
        };
        if held < level as f64 {
            fell_short.push(format!(
                "{} held only {}",
                cell.subject,
                grouped(held as usize)
            ));
        } else {
            per_conn.push((cell.subject.as_str(), bytes));
        }
    }
    if per_conn.len() < 2 {
        return None;
    }
    per_conn.sort_by(|a, b| a.1.total_cmp(&b.1));
    let (least, most) = (per_conn[0], per_conn[per_conn.len() - 1]);
    let mut text = format!(
        "Holding {} {}connections, the server's private memory grew least for {} ({}) and most for {} ({}), of {} models that held them all.",
        grouped(level),
        if workload == "idle" { "idle " } else { "" },
        least.0,
        bytes(least.1),
        most.0,
        bytes(most.1),
        per_conn.len()
    );
    if !fell_short.is_empty() {
        text.push_str(&format!(" Left out: {}.", fell_short.join(", ")));
    }
    Some(Finding {
        topic: "memory per held connection".to_string(),
        text,
    })
}

/// `740 B`, `12.4 kB` per connection.
fn bytes(b: f64) -> String {
    if b >= 1000.0 {
        format!("{:.1} kB per connection", b / 1000.0)
    } else {
        format!("{b:.0} B per connection")
    }
}
