//! `report.html` in a real browser: headless Chromium opens the page `iomodels compare`
//! writes and fails on anything a reader would see go wrong.
//!
//! - The page says nothing is wrong: no uncaught exception, no `console.error`, no
//!   resource that failed to load (DevTools' `Runtime.exceptionThrown`,
//!   `Runtime.consoleAPICalled` of type error, `Log.entryAdded` of level error).
//! - Every ranked chart (`<figure class="ranked" data-bars="N" data-title="...">`) draws
//!   its N bars: rects filled with a family colour
//!   ([`iomodels::report::chart::FAMILY_COLOURS`]) that the browser lays out with a
//!   nonzero size. The page has at least one such chart.
//! - Every sweep chart (`<figure class="sweep">`) lays out its SVG with a nonzero size.
//! - No text of a chart leaves it: every `<text>` of a chart's SVG lies inside the
//!   SVG, and a text that starts inside a panel of a sweep (`<rect class="panel">`)
//!   ends inside it, so a line label is neither clipped nor drawn over the next panel.
//!   `label_check_tells_a_bad_chart_from_a_good_one` shows the check failing on
//!   charts drawn wrong on purpose and passing on a good one.
//!
//! It leaves a full-page `screenshot.png` beside the report, taken before any check can
//! fail. The report is `$IOMODELS_BROWSER_REPORT/report.html` when that is set, else a
//! fresh `iomodels compare --quick`. Chromium is the system's (`$CHROME`, else
//! `chromium` on the path); nothing is downloaded. Ignored by default: `.ci/run`
//! installs Debian's chromium and runs it with `--ignored`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use headless_chrome::protocol::cdp::types::Event;
use headless_chrome::protocol::cdp::Log::LogEntryLevel;
use headless_chrome::protocol::cdp::Page::{
    CaptureScreenshot, CaptureScreenshotFormatOption, Viewport,
};
use headless_chrome::protocol::cdp::Runtime::{ConsoleAPICalledEventTypeOption, RemoteObject};
use headless_chrome::{Browser, LaunchOptions, Tab};
use iomodels::report::chart::FAMILY_COLOURS;
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// The browser window: a laptop screen, wide enough for the report's 1200 px column.
const WINDOW: (u32, u32) = (1280, 900);
/// Logged once every check has run: when the listener sees it, every event the page
/// raised before it has been heard.
const SENTINEL: &str = "iomodels browser test: end of page events";
/// How long the DevTools events may lag behind the page.
const EVENT_LAG: Duration = Duration::from_secs(10);

#[test]
#[ignore = "needs Debian's chromium: .ci/run installs it and runs this test"]
fn report_html_renders_in_chromium() -> Result<()> {
    let dir = report_dir();
    let page = dir.join("report.html");
    assert!(page.is_file(), "no report at {}", page.display());
    let browser = launch()?;
    let tab = browser.new_tab()?;
    let complaints = Complaints::listen(&tab)?;
    let url = format!("file://{}", page.canonicalize()?.display());
    tab.navigate_to(&url)?.wait_until_navigated()?;

    let mut failures = Vec::new();
    let screenshot = dir.join("screenshot.png");
    match save_screenshot(&tab, &screenshot) {
        Ok(()) => eprintln!("screenshot: {}", screenshot.display()),
        Err(e) => failures.push(format!("no screenshot: {e:#}")),
    }
    failures.extend(ranked_chart_failures(&tab)?);
    failures.extend(sweep_chart_failures(&tab)?);
    failures.extend(label_failures(&tab)?);
    failures.extend(complaints.settle(&tab)?);
    assert!(
        failures.is_empty(),
        "{url} in Chromium:\n  {}",
        failures.join("\n  ")
    );
    Ok(())
}

/// The directory holding the `report.html` to check: `$IOMODELS_BROWSER_REPORT`, else
/// one that a fresh `iomodels compare --quick` writes under the target directory.
fn report_dir() -> PathBuf {
    match std::env::var_os("IOMODELS_BROWSER_REPORT") {
        Some(dir) => PathBuf::from(dir),
        None => fresh_report(),
    }
}

fn fresh_report() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-report");
    let output = Command::new(env!("CARGO_BIN_EXE_iomodels"))
        .args(["compare", "--quick", "--out"])
        .arg(&dir)
        .output()
        .expect("cannot run iomodels compare");
    eprintln!(
        "iomodels compare --quick --out {}, last lines:\n{}",
        dir.display(),
        tail(&String::from_utf8_lossy(&output.stdout), 15)
    );
    assert!(
        output.status.success(),
        "iomodels compare failed ({}):\n{}",
        output.status,
        tail(&String::from_utf8_lossy(&output.stderr), 30)
    );
    dir
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Headless Chromium, the system's own. Without the sandbox, which Chromium refuses to
/// start as root (CI runs as root); the only page it opens is the local report.
fn launch() -> Result<Browser> {
    let path = headless_chrome::browser::default_executable()
        .map_err(anyhow::Error::msg)
        .context("no Chromium: install Debian's chromium (.ci/run does) or set CHROME")?;
    Browser::new(LaunchOptions {
        headless: true,
        sandbox: false,
        window_size: Some(WINDOW),
        path: Some(path),
        ..LaunchOptions::default()
    })
    .context("cannot start Chromium")
}

/// What the page said went wrong, gathered from its DevTools events as they arrive.
#[derive(Default)]
struct Heard {
    complaints: Vec<String>,
    sentinel: bool,
}

/// A listener on a tab's DevTools events that keeps what [`complaint`] makes of each.
struct Complaints(Arc<Mutex<Heard>>);

impl Complaints {
    /// Starts listening; call before the page is opened, so that nothing is missed.
    fn listen(tab: &Tab) -> Result<Self> {
        tab.enable_runtime()?.enable_log()?;
        let heard = Arc::new(Mutex::new(Heard::default()));
        let sink = Arc::clone(&heard);
        tab.add_event_listener(Arc::new(move |event: &Event| {
            let mut heard = sink.lock().unwrap();
            if is_sentinel(event) {
                heard.sentinel = true;
            } else if let Some(complaint) = complaint(event) {
                heard.complaints.push(complaint);
            }
        }))?;
        Ok(Complaints(heard))
    }

    /// Everything heard up to now: logs the sentinel and waits until it is heard.
    fn settle(self, tab: &Tab) -> Result<Vec<String>> {
        tab.evaluate(&format!("console.debug({})", js(&SENTINEL)), false)?;
        let start = Instant::now();
        loop {
            let heard = self.0.lock().unwrap();
            if heard.sentinel {
                return Ok(heard.complaints.clone());
            }
            drop(heard);
            if start.elapsed() > EVENT_LAG {
                bail!("the page's DevTools events did not arrive within {EVENT_LAG:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn is_sentinel(event: &Event) -> bool {
    let Event::RuntimeConsoleAPICalled(call) = event else {
        return false;
    };
    call.params.Type == ConsoleAPICalledEventTypeOption::Debug
        && call
            .params
            .args
            .iter()
            .any(|arg| arg.value.as_ref().and_then(serde_json::Value::as_str) == Some(SENTINEL))
}

/// The event as a line for the failure message, if it says something went wrong.
fn complaint(event: &Event) -> Option<String> {
    match event {
        Event::RuntimeExceptionThrown(thrown) => {
            let details = &thrown.params.exception_details;
            let what = details
                .exception
                .as_ref()
                .and_then(|e| e.description.clone())
                .unwrap_or_else(|| details.text.clone());
            Some(format!(
                "uncaught exception at {}:{}: {what}",
                details.url.as_deref().unwrap_or("?"),
                details.line_number + 1
            ))
        }
        Event::RuntimeConsoleAPICalled(call)
            if call.params.Type == ConsoleAPICalledEventTypeOption::Error =>
        {
            let args: Vec<String> = call.params.args.iter().map(shown).collect();
            Some(format!("console.error: {}", args.join(" ")))
        }
        Event::LogEntryAdded(added) if added.params.entry.level == LogEntryLevel::Error => {
            let entry = &added.params.entry;
            Some(format!(
                "{:?} error: {} ({})",
                entry.source,
                entry.text,
                entry.url.as_deref().unwrap_or("no url")
            ))
        }
        _ => None,
    }
}

/// A `console` argument as the DevTools console would show it.
fn shown(arg: &RemoteObject) -> String {
    match (&arg.value, &arg.description) {
        (Some(serde_json::Value::String(text)), _) => text.clone(),
        (Some(value), _) => value.to_string(),
        (None, Some(description)) => description.clone(),
        (None, None) => format!("{:?}", arg.Type),
    }
}

const PAGE_SIZE: &str = "(() => { const page = document.documentElement;
  return JSON.stringify([page.scrollWidth, page.scrollHeight]); })()";

/// Saves the whole page, not only the window, as a PNG.
fn save_screenshot(tab: &Tab, path: &Path) -> Result<()> {
    let (width, height): (f64, f64) = eval(tab, PAGE_SIZE)?;
    let shot = tab.call_method(CaptureScreenshot {
        format: Some(CaptureScreenshotFormatOption::Png),
        quality: None,
        clip: Some(Viewport {
            x: 0.0,
            y: 0.0,
            width,
            height,
            scale: 1.0,
        }),
        from_surface: Some(true),
        capture_beyond_viewport: Some(true),
        optimize_for_speed: None,
    })?;
    let png = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, shot.data)?;
    std::fs::write(path, png).with_context(|| format!("cannot write {}", path.display()))
}

/// A ranked chart as the browser laid it out.
#[derive(Deserialize)]
struct RankedFigure {
    title: Option<String>,
    /// `data-bars` as written: the number of bars the chart should draw.
    expected: Option<String>,
    /// Outermost `<svg>` elements in the figure: one chart, one SVG.
    svgs: usize,
    /// Rects of the SVG filled with a family colour and laid out with a nonzero size.
    bars: usize,
}

const RANKED_FIGURES: &str = r#"(() => {
  const fills = new Set(COLOURS.map(c => c.toLowerCase()));
  const drawn = r => { const b = r.getBoundingClientRect(); return b.width > 0 && b.height > 0; };
  const isBar = r => fills.has((r.getAttribute('fill') || '').trim().toLowerCase()) && drawn(r);
  return JSON.stringify([...document.querySelectorAll('figure.ranked')].map(figure => {
    const svgs = [...figure.querySelectorAll('svg')].filter(s => !s.parentElement.closest('svg'));
    const bars = svgs.length === 1 ? [...svgs[0].querySelectorAll('rect')].filter(isBar).length : 0;
    return { title: figure.getAttribute('data-title'), expected: figure.getAttribute('data-bars'),
             svgs: svgs.length, bars };
  }));
})()"#;

/// One line for each ranked chart that does not draw the bars it says it has.
fn ranked_chart_failures(tab: &Tab) -> Result<Vec<String>> {
    let script = RANKED_FIGURES.replace("COLOURS", &js(&FAMILY_COLOURS));
    let figures: Vec<RankedFigure> = eval(tab, &script)?;
    if figures.is_empty() {
        return Ok(vec![
            "no ranked chart (figure.ranked) in the page".to_string()
        ]);
    }
    Ok(figures.iter().filter_map(ranked_failure).collect())
}

fn ranked_failure(figure: &RankedFigure) -> Option<String> {
    let name = figure_name(&figure.title);
    let expected = figure.expected.as_deref().unwrap_or("");
    if figure.svgs != 1 {
        return Some(format!(
            "ranked chart {name}: {} inline svg, not one",
            figure.svgs
        ));
    }
    match expected.trim().parse::<usize>() {
        Err(_) => Some(format!(
            "ranked chart {name}: data-bars {expected:?} is not a count"
        )),
        Ok(n) if n != figure.bars => Some(format!(
            "ranked chart {name}: {} bars drawn in a family colour, data-bars says {n}",
            figure.bars
        )),
        Ok(_) => None,
    }
}

/// A sweep chart as the browser laid it out.
#[derive(Deserialize)]
struct SweepFigure {
    title: Option<String>,
    svgs: usize,
    width: f64,
    height: f64,
}

const SWEEP_FIGURES: &str = r#"(() => {
  const sizes = [...document.querySelectorAll('figure.sweep')].map(figure => {
    const svgs = [...figure.querySelectorAll('svg')].filter(s => !s.parentElement.closest('svg'));
    const box = svgs.length > 0 ? svgs[0].getBoundingClientRect() : { width: 0, height: 0 };
    return { title: figure.getAttribute('data-title'), svgs: svgs.length,
             width: box.width, height: box.height };
  });
  return JSON.stringify(sizes);
})()"#;

/// One line for each sweep chart whose SVG is missing or laid out with no size.
fn sweep_chart_failures(tab: &Tab) -> Result<Vec<String>> {
    let figures: Vec<SweepFigure> = eval(tab, SWEEP_FIGURES)?;
    Ok(figures
        .iter()
        .filter(|f| f.svgs != 1 || f.width <= 0.0 || f.height <= 0.0)
        .map(|f| {
            format!(
                "sweep chart {}: {} inline svg, the first {}x{} px",
                figure_name(&f.title),
                f.svgs,
                f.width,
                f.height
            )
        })
        .collect())
}

/// A chart's text that leaves its panel or its SVG, as the browser laid it out.
#[derive(Deserialize)]
struct Overflow {
    title: Option<String>,
    text: String,
    /// What it leaves: `svg` or `panel`.
    leaves: String,
    by_px: f64,
}

/// Lists every `<text>` of every chart (a figure's outermost SVG) whose box leaves the
/// SVG, or leaves the sweep panel (`rect.panel`) its start lies in, by over half a pixel.
const LABEL_OVERFLOWS: &str = r#"(() => {
  const past = (inner, outer) => Math.max(outer.left - inner.left, inner.right - outer.right,
                                          outer.top - inner.top, inner.bottom - outer.bottom);
  const holds = (r, x, y) => x >= r.left && x <= r.right && y >= r.top && y <= r.bottom;
  const found = [];
  for (const figure of document.querySelectorAll('figure')) {
    const svg = [...figure.querySelectorAll('svg')].find(s => !s.parentElement.closest('svg'));
    if (!svg) continue;
    const frame = svg.getBoundingClientRect();
    const panels = [...svg.querySelectorAll('rect.panel')].map(p => p.getBoundingClientRect());
    for (const text of svg.querySelectorAll('text')) {
      const box = text.getBoundingClientRect();
      if (box.width === 0 && box.height === 0) continue;
      const note = (leaves, by) => found.push({ title: figure.getAttribute('data-title'),
        text: text.textContent.trim(), leaves, by_px: by });
      const outside = past(box, frame);
      if (outside > 0.5) { note('svg', outside); continue; }
      const panel = panels.find(p => holds(p, box.left + 1, (box.top + box.bottom) / 2));
      const beyond = panel ? past(box, panel) : 0;
      if (beyond > 0.5) note('panel', beyond);
    }
  }
  return JSON.stringify(found);
})()"#;

/// One line for each chart text that leaves its panel or its SVG.
fn label_failures(tab: &Tab) -> Result<Vec<String>> {
    let overflows: Vec<Overflow> = eval(tab, LABEL_OVERFLOWS)?;
    Ok(overflows
        .iter()
        .map(|o| {
            format!(
                "chart {}: text {:?} leaves its {} by {:.1} px",
                figure_name(&o.title),
                o.text,
                o.leaves,
                o.by_px
            )
        })
        .collect())
}

/// The label check on charts made by hand: a label past its panel's right edge (drawn
/// over the next panel), one past the SVG's right edge (clipped), one under the SVG's
/// bottom, and a good chart whose labels stay inside. Only the bad ones may fail.
#[test]
#[ignore = "needs Debian's chromium: .ci/run installs it and runs this test"]
fn label_check_tells_a_bad_chart_from_a_good_one() -> Result<()> {
    let chart = |title: &str, labels: &[(u32, u32, &str)]| {
        let texts: String = labels
            .iter()
            .map(|(x, y, t)| {
                format!(
                    r#"<text x="{x}" y="{y}" font-family="sans-serif" font-size="15">{t}</text>"#
                )
            })
            .collect();
        format!(
            r#"<figure class="sweep" data-title="{title}"><svg xmlns="http://www.w3.org/2000/svg" width="600" height="200" viewBox="0 0 600 200"><rect class="panel" x="0" y="0" width="300" height="200" fill="none" stroke="none"/><rect class="panel" x="300" y="0" width="300" height="200" fill="none" stroke="none"/>{texts}</svg></figure>"#
        )
    };
    let page = [
        chart(
            "good",
            &[
                (180, 100, "epoll 0.91x"),
                (480, 60, "threads 1.20x"),
                (480, 190, "poll 1.02x"),
            ],
        ),
        chart("past its panel", &[(250, 100, "epoll-threads 0.91x")]),
        chart("past the svg", &[(560, 100, "select 0.93x")]),
        chart("under the svg", &[(100, 206, "select 0.93x")]),
    ]
    .concat();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-labels");
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("labels.html");
    std::fs::write(
        &file,
        format!("<!doctype html><html><body>{page}</body></html>"),
    )?;
    let browser = launch()?;
    let tab = browser.new_tab()?;
    tab.navigate_to(&format!("file://{}", file.display()))?
        .wait_until_navigated()?;
    let failures = label_failures(&tab)?;
    let failed = |title: &str| failures.iter().any(|f| f.contains(&format!("{title:?}")));
    assert!(!failed("good"), "{failures:#?}");
    for bad in ["past its panel", "past the svg", "under the svg"] {
        assert!(failed(bad), "{bad} not caught: {failures:#?}");
    }
    assert_eq!(failures.len(), 3, "{failures:#?}");
    Ok(())
}

fn figure_name(title: &Option<String>) -> String {
    title
        .as_deref()
        .map_or_else(|| "(no data-title)".to_string(), |t| format!("{t:?}"))
}

/// Runs `script`, which returns `JSON.stringify` of something, and parses that.
fn eval<T: DeserializeOwned>(tab: &Tab, script: &str) -> Result<T> {
    let result = tab.evaluate(script, false)?;
    match result.value {
        Some(serde_json::Value::String(json)) => Ok(serde_json::from_str(&json)?),
        _ => bail!(
            "script gave no JSON: {}\n{script}",
            result.description.unwrap_or_default()
        ),
    }
}

/// `value` as a JavaScript literal.
fn js<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("a string or a list of strings is JSON")
}
