//! What a document read from a file may hold. A `report.json` or a bench run is
//! untrusted input: `iomodels report` renders what it is given into files, links and
//! tables, `diff` compares it and `merge` sums it. So each is checked once, as it is
//! read ([`super::comparison::Comparison::load`], [`super::run::BenchRun::load`]):
//!
//! - every number is a figure a run can measure: no sign, at most [`MAX_FIGURE`] (a
//!   figure near `f64::MAX` would send the charts' axes to infinity);
//! - no string holds a control character (a newline ends a Markdown table row, an escape
//!   sequence rewrites the terminal);
//! - a workload's name is a lowercase word with hyphens (it names the chart files), a
//!   model's is a model or target name with its flags (`epoll-prefork:--workers=8`), a
//!   level is at most [`MAX_LEVEL`]; a bench run's target and origin, which merge's
//!   errors quote, are at most [`LABEL_MAX`] characters.
//!
//! An error names the field and echoes at most [`ECHO_MAX`] characters of what it found.

use serde_json::Value;

/// The largest figure a document may hold: over a year of CPU in nanoseconds, summed
/// over a thousand CPUs, is less.
pub const MAX_FIGURE: f64 = 1e18;
/// The most clients or connections a level may ask for.
pub const MAX_LEVEL: usize = 1_000_000_000;
/// The longest workload name.
pub const WORKLOAD_MAX: usize = 32;
/// The longest model (subject) name, flags included.
pub const SUBJECT_MAX: usize = 100;
/// The most characters of the input an error message quotes.
pub const ECHO_MAX: usize = 40;
/// The longest target or origin of a bench run (an address, a URL, a host and pid),
/// which merge's errors quote whole.
pub const LABEL_MAX: usize = 200;

/// Checks every number and string of a parsed document (see the module documentation);
/// the error names the first field that fails, as a path (`cells[3].figures.median.p99_us`).
pub fn document(value: &Value) -> Result<(), String> {
    walk(value, &mut String::new())
}

fn walk(value: &Value, path: &mut String) -> Result<(), String> {
    let here = path.len();
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&cap(key, ECHO_MAX));
                walk(item, path)?;
                path.truncate(here);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push_str(&format!("[{i}]"));
                walk(item, path)?;
                path.truncate(here);
            }
        }
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            if !(0.0..=MAX_FIGURE).contains(&x) {
                return Err(format!(
                    "{path}: {n} is no figure a run measures, all of which lie between 0 and {MAX_FIGURE:e}"
                ));
            }
        }
        Value::String(text) if text.chars().any(char::is_control) => {
            return Err(format!("{path}: a control character in {}", echo(text)));
        }
        Value::String(_) | Value::Bool(_) | Value::Null => {}
    }
    Ok(())
}

/// A workload's name: a lowercase letter, then lowercase letters, digits and hyphens, at
/// most [`WORKLOAD_MAX`] in all (`http-close`). It names files (`http-close-100.svg`), so
/// nothing in it may leave a directory or start a URL's scheme.
pub fn workload(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let rest = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if first && rest && name.len() <= WORKLOAD_MAX {
        return Ok(());
    }
    Err(format!(
        "{} is not a workload's name (a lowercase letter, then lowercase letters, digits and '-', at most {WORKLOAD_MAX})",
        echo(name)
    ))
}

/// A model's name as a comparison labels it: a letter or digit, then letters, digits
/// and `-_.:=` (a model's flags, `epoll:--backlog=64`, and a target's name), at most
/// [`SUBJECT_MAX`] in all.
pub fn subject(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest = chars.all(|c| c.is_ascii_alphanumeric() || "-_.:=".contains(c));
    if first && rest && name.len() <= SUBJECT_MAX {
        return Ok(());
    }
    Err(format!(
        "{} is not a model's name (a letter or digit, then letters, digits and '-_.:=', at most {SUBJECT_MAX})",
        echo(name)
    ))
}

/// A bench run's target or origin: at most [`LABEL_MAX`] characters.
pub fn label(text: &str) -> Result<(), String> {
    if text.chars().count() <= LABEL_MAX {
        return Ok(());
    }
    Err(format!(
        "{} is longer than {LABEL_MAX} characters",
        echo(text)
    ))
}

/// A level: at most [`MAX_LEVEL`] clients or connections.
pub fn level(level: usize) -> Result<(), String> {
    if level <= MAX_LEVEL {
        return Ok(());
    }
    Err(format!(
        "level {level} asks for more than {MAX_LEVEL} clients or connections"
    ))
}

/// A parse error as one short line: serde's message quotes the value it found, which
/// may be as long as the file.
pub fn brief(err: &serde_json::Error) -> String {
    cap(&err.to_string(), 4 * ECHO_MAX)
}

/// `text` as an error message quotes it: in quotes, control characters escaped, cut
/// after [`ECHO_MAX`] characters.
pub fn echo(text: &str) -> String {
    format!("'{}'", cap(&text.escape_debug().to_string(), ECHO_MAX))
}

/// `text` cut after `max` characters, with an ellipsis where it was cut.
pub fn cap(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_a_clear_set_of_characters_and_length_pass() {
        for ok in ["echo", "http-close", "c1m", "idle"] {
            assert_eq!(workload(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "../../x",
            "javascript:alert(1)//",
            "HTTP",
            "-x",
            "a/b",
            "a b",
        ] {
            assert!(workload(bad).is_err(), "{bad}");
        }
        assert!(workload(&"w".repeat(WORKLOAD_MAX + 1)).is_err());
        for ok in ["epoll", "epoll-prefork:--workers=8", "nginx", "my_server.2"] {
            assert_eq!(subject(ok), Ok(()), "{ok}");
        }
        for bad in ["", "a|b", "<img>", "[x](javascript:y)", "a b", "../x", ":x"] {
            assert!(subject(bad).is_err(), "{bad}");
        }
        assert_eq!(label("vm pid 1267"), Ok(()));
        assert!(label(&"h".repeat(LABEL_MAX + 1)).is_err());
        assert_eq!(level(MAX_LEVEL), Ok(()));
        assert!(level(MAX_LEVEL + 1).is_err());
    }

    #[test]
    fn a_figure_out_of_range_or_a_control_character_is_named_by_its_path() {
        let doc = |text: &str| document(&serde_json::from_str(text).unwrap());
        assert_eq!(doc(r#"{"a": [1, 2.5, {"b": "x"}], "c": null}"#), Ok(()));
        let err = doc(r#"{"cells": [{}, {"figures": {"p99_us": 1.7e308}}]}"#).unwrap_err();
        assert!(
            err.starts_with("cells[1].figures.p99_us: 1.7e+308 is no figure"),
            "{err}"
        );
        let err = doc(r#"{"requests": 18446744073709551615}"#).unwrap_err();
        assert!(err.starts_with("requests: 18446744073709551615"), "{err}");
        assert!(doc(r#"{"x": -1}"#).unwrap_err().starts_with("x: -1"));
        let err = doc(r#"{"said": ["ok", "a\u001b[2Jb"]}"#).unwrap_err();
        assert_eq!(err, "said[1]: a control character in 'a\\u{1b}[2Jb'");
    }

    #[test]
    fn an_error_quotes_little_of_the_input() {
        let long = "x".repeat(10_000);
        let err = workload(&long).unwrap_err();
        assert!(err.len() < 200, "{err}");
        assert_eq!(cap("abc", 2), "ab…");
        assert_eq!(cap("abc", 3), "abc");
    }
}
