//! `report.html`: one self-contained page (no external file needed to read it). Its
//! first screen says which model to pick for each workload, and what the run found, in
//! sentences; then, for each workload, its
//! sweep chart, and for each level the ranked chart with its table below. Each chart
//! also links to its standalone SVG. How the figures were measured closes the page.

use std::fmt::Write as _;

use super::chart::{self, Chart, ChartKind};
use super::escape::html as escape;
use super::glossary;
use super::table::{floor_drift_warning, table, Table};
use super::{findings, pick};
use crate::results::comparison::Comparison;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1200px;padding:0 1em;color:#222;line-height:1.45}\
h1{margin:.2em 0}.sub{color:#555;margin:0 0 1em}\
.findings{background:#f6f8fa;border-left:4px solid #4E79A7;padding:.6em 1.2em;margin:0 0 1.5em}\
.findings li{margin:.35em 0}.pick li{font-size:1.08em}.warn{color:#8a4b00;font-weight:bold}\
table{border-collapse:collapse;margin:.5em 0 2em;font-size:13px}\
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}td:nth-child(2),th:nth-child(2){text-align:left}\
th{background:#f2f2f2}tr:nth-child(even){background:#fafafa}.note{color:#8a4b00;font-size:13px}\
figure{margin:1em 0 .3em}figcaption{font-size:12px;color:#666}svg{max-width:100%;height:auto;display:block}\
details{margin:.5em 0 1.5em}summary{cursor:pointer;color:#333}.method{font-size:14px;color:#444}";

/// The page, with `charts` inlined.
pub fn page(report: &Comparison, charts: &[Chart]) -> String {
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>iomodels compare</title><style>{STYLE}</style></head><body>\n<h1>iomodels compare</h1>\n<p class=\"sub\">{}</p>\n",
        escape(&headline(report))
    );
    if let Some(warning) = floor_drift_warning(report) {
        let _ = writeln!(html, "<p class=\"warn\">{}</p>", escape(&warning));
    }
    findings_html(&mut html, report);
    for (workload, levels) in &report.workloads {
        let _ = writeln!(html, "<h2>{}</h2>", escape(workload));
        if let Some(sweep) = chart::find(charts, workload, None) {
            figure(&mut html, sweep);
        }
        for &level in levels {
            if let Some(ranked) = chart::find(charts, workload, Some(level)) {
                figure(&mut html, ranked);
            }
            html.push_str("<details><summary>the table: every figure, with its spread</summary>\n");
            html.push_str(&table_html(&table(report, workload, level)));
            html.push_str("</details>\n");
        }
    }
    method(&mut html, report);
    glossary_html(&mut html);
    html.push_str("</body></html>\n");
    html
}

/// The machine and the run in one line.
fn headline(report: &Comparison) -> String {
    let m = &report.machine;
    let work =
        super::ideal::explanation(report).map_or_else(String::new, |line| format!(" {line}."));
    let database =
        super::db::explanation(report).map_or_else(String::new, |line| format!(" {line}."));
    let text = format!(
        "{} models, {} of {} ms runs, {:.0} s in all, on {} CPUs ({}), {}. Lower is better: a model's figure is its server CPU per request{}.",
        report.subjects.len(),
        match report.repeat {
            1 => "one round (no spread)".to_string(),
            n => format!("{n} rounds"),
        },
        report.duration_ms,
        report.wall_s,
        m.cpus,
        m.cpu_model,
        m.kernel,
        report.floor_us_per_req.map_or_else(String::new, |f| format!(
            " over the floor, the median CPU per request of a minimal server loop measured in the same round ({f:.2} µs: one read, one write; a reference, not a bound, so a model can come out slightly below it)"
        ))
    );
    text + &work + &database
}

/// The box the page opens with: which model to pick for each workload, then what the
/// run found.
fn findings_html(html: &mut String, report: &Comparison) {
    let picks: Vec<(String, String)> = pick::all(report)
        .into_iter()
        .map(|p| (p.workload, p.text))
        .collect();
    let found: Vec<(String, String)> = findings::all(report)
        .into_iter()
        .map(|f| (f.topic, f.text))
        .collect();
    if picks.is_empty() && found.is_empty() {
        return;
    }
    html.push_str("<section class=\"findings\">");
    for (heading, class, items) in [
        ("Which model to pick", "pick", picks),
        ("What this run found", "found", found),
    ] {
        if items.is_empty() {
            continue;
        }
        let _ = writeln!(html, "<h2>{heading}</h2><ul class=\"{class}\">");
        for (topic, text) in items {
            let _ = writeln!(
                html,
                "<li><strong>{}</strong>: {}</li>",
                escape(&topic),
                escape(&text)
            );
        }
        html.push_str("</ul>");
    }
    html.push_str("</section>\n");
}

/// A chart inlined, with the attributes the browser test checks.
fn figure(html: &mut String, chart: &Chart) {
    let (class, bars) = match chart.kind {
        ChartKind::Ranked { bars } => ("ranked", format!(" data-bars=\"{bars}\"")),
        ChartKind::Sweep => ("sweep", String::new()),
    };
    let _ = writeln!(
        html,
        "<figure class=\"{class}\"{bars} data-title=\"{title}\">{svg}<figcaption><a href=\"./{file}\">{file}</a></figcaption></figure>",
        title = escape(&chart.title),
        svg = strip_xml_declaration(&chart.svg),
        file = escape(&chart.file)
    );
}

/// How the figures were measured, for the reader who wants it.
fn method(html: &mut String, report: &Comparison) {
    let _ = write!(
        html,
        "<h2>How this was measured</h2>\n<p class=\"method\"><code>{}</code><br>{:.1} GiB of memory. Each figure is {}. Server CPU, context switches and memory cover the server's whole process tree.",
        escape(&report.command),
        report.machine.memory_gib,
        escape(&super::each_figure(report)),
    );
    if !report.ranked_by.is_empty() {
        let _ = write!(
            html,
            " Ranking: {}. Tiers: {}. {}.",
            escape(&report.ranked_by),
            escape(&report.tier_rule),
            escape(&report.cpu_source)
        );
    }
    if let Some(line) = super::table::server_host_line(report) {
        let _ = write!(html, " {}.", escape(&line));
    }
    html.push_str("</p>\n");
}

/// What every column and figure means, as a definition list.
fn glossary_html(html: &mut String) {
    html.push_str("<h2>Glossary</h2>\n<dl class=\"method\">\n");
    for term in glossary::TERMS {
        let _ = writeln!(
            html,
            "<dt><code>{}</code></dt><dd>{}</dd>",
            escape(term.name),
            escape(&term.meaning.replace('`', ""))
        );
    }
    html.push_str("</dl>\n");
}

fn table_html(table: &Table) -> String {
    let mut html = format!("<h3>{}</h3>\n<table><tr>", escape(&table.title));
    for h in &table.headers {
        match glossary::meaning(h) {
            Some(meaning) => {
                let _ = write!(
                    html,
                    "<th title=\"{}\">{}</th>",
                    escape(&meaning.replace('`', "")),
                    escape(h)
                );
            }
            None => {
                let _ = write!(html, "<th>{}</th>", escape(h));
            }
        }
    }
    html.push_str("</tr>\n");
    for row in &table.rows {
        html.push_str("<tr>");
        for cell in row {
            let _ = write!(html, "<td>{}</td>", escape(cell));
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</table>\n");
    for note in &table.notes {
        let _ = writeln!(html, "<p class=\"note\">{}</p>", escape(note));
    }
    html
}

fn strip_xml_declaration(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(start) => &svg[start..],
        None => svg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::testing::{cell, costs, report};

    #[test]
    fn a_chart_links_to_its_file_by_a_relative_path_never_a_scheme() {
        let chart = Chart {
            file: "javascript:alert(1)//-10.svg".into(),
            title: "t".into(),
            workload: "w".into(),
            level: Some(10),
            kind: ChartKind::Sweep,
            svg: "<svg></svg>".into(),
        };
        let mut html = String::new();
        figure(&mut html, &chart);
        assert!(
            html.contains("href=\"./javascript:alert(1)//-10.svg\""),
            "{html}"
        );
    }

    #[test]
    fn the_pick_opens_the_page_above_the_findings() {
        let r = report(
            &[("http", &[10])],
            vec![
                cell("epoll", "http", 10, 1, costs(1.0)),
                cell("poll", "http", 10, 2, costs(2.0)),
            ],
        );
        let html = page(&r, &chart::all(&r).unwrap());
        let pick = html.find("<h2>Which model to pick</h2>").expect("a pick");
        let found = html.find("<h2>What this run found</h2>").expect("findings");
        assert!(pick < found);
        assert!(html.contains(
            "<li><strong>http</strong>: epoll: least CPU per request at 10 clients (one round: no spread to tell noise from a difference)</li>"
        ));
    }

    #[test]
    fn with_several_load_hosts_the_headings_say_per_host_and_in_all() {
        let mut r = report(
            &[("http", &[10])],
            vec![cell("epoll", "http", 10, 1, costs(1.0))],
        );
        r.client_hosts = vec!["ssh://a".into(), "ssh://b".into()];
        let html = page(&r, &chart::all(&r).unwrap());
        assert!(
            html.contains("<h3>http: 10 concurrent clients per host (20 in all)</h3>"),
            "the table's heading"
        );
        assert!(
            html.contains("data-title=\"http, 10 clients per host (20 in all)\""),
            "the chart's title"
        );
    }
}
