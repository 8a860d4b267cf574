//! `report.html`: one self-contained page (no external file needed to read it) with the
//! machine, the ranked tables and the charts inlined; each chart also links to its SVG.

use std::fmt::Write as _;

use super::table::{tables, Table};
use crate::results::comparison::Comparison;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1150px;color:#222}\
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:13px}\
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}td:nth-child(2),th:nth-child(2){text-align:left}\
th{background:#f2f2f2}tr:nth-child(even){background:#fafafa}.note{color:#8a4b00;font-size:13px}\
figure{margin:0}svg{max-width:100%;height:auto}";

/// The page, given each workload's chart as (workload, file name, SVG text).
pub fn page(report: &Comparison, charts: &[(String, String, String)]) -> String {
    let mut html = String::new();
    let m = &report.machine;
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>iomodels compare</title><style>{STYLE}</style></head><body>\n<h1>iomodels compare</h1>\n<p><code>{}</code><br>{} CPUs ({}), {:.1} GiB, {}<br>Each figure is the median of {} interleaved round(s) of {} ms runs; min-max is the spread. Server CPU, context switches and memory (PSS) cover the server's whole process tree (PSS summed over it); x floor is a server's CPU per request over the floor of its round (median {}).</p>\n",
        escape(&report.command),
        m.cpus,
        escape(&m.cpu_model),
        m.memory_gib,
        escape(&m.kernel),
        report.repeat,
        report.duration_ms,
        report
            .floor_us_per_req
            .map_or_else(|| "not measured".to_string(), |f| format!("{f:.2} µs per request, `iomodels floor`"))
    );
    if !report.ranked_by.is_empty() {
        let _ = writeln!(
            html,
            "<p>Ranking: {}. The <code>#</code> column is the tier: {}; <code>=2</code> marks a tier several models share.<br>{}.</p>",
            escape(&report.ranked_by),
            escape(&report.tier_rule),
            escape(&report.cpu_source)
        );
    }
    if let Some(warning) = super::table::floor_drift_warning(report) {
        let _ = writeln!(html, "<p><strong>{}</strong></p>", escape(&warning));
    }
    let all = tables(report);
    for (workload, file, svg) in charts {
        let _ = write!(
            html,
            "<h2>{w}</h2>\n<figure>{svg}<figcaption><a href=\"{file}\">{file}</a></figcaption></figure>\n",
            w = escape(workload),
            svg = strip_xml_declaration(svg),
            file = escape(file)
        );
        let prefix = format!("{workload}:");
        for table in all.iter().filter(|t| t.title.starts_with(&prefix)) {
            html.push_str(&table_html(table));
        }
    }
    html.push_str("</body></html>\n");
    html
}

fn table_html(table: &Table) -> String {
    let mut html = format!("<h3>{}</h3>\n<table><tr>", escape(&table.title));
    for h in &table.headers {
        let _ = write!(html, "<th>{}</th>", escape(h));
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

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
