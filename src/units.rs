//! Durations as every command writes them (`4s`, `500ms`, `250us`, `1.5`): one parser
//! for `serve`, `bench` and `compare`, so a flag means the same in each; and counts
//! as every command prints them (`10,000`).

use std::time::Duration;

/// Parses `4s`, `500ms`, `1m`, `1h`, `250us`, `100ns` or a bare number of seconds
/// (`1.5`). A whole number is taken exactly (to the nanosecond), so that a duration
/// written back by `bench`'s argv parses to itself.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let not_a_duration = || format!("'{text}' is not a duration (like 4s, 500ms, 1m)");
    let unit_ns: u64 = match unit {
        "" | "s" => 1_000_000_000,
        "ms" => 1_000_000,
        "us" | "µs" => 1_000,
        "ns" => 1,
        "m" | "min" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => {
            return Err(format!(
                "'{text}': unknown unit '{unit}' (use ns, us, ms, s, m or h)"
            ))
        }
    };
    let duration = match number.parse::<u64>() {
        Ok(whole) => whole.checked_mul(unit_ns).map(Duration::from_nanos),
        Err(_) => {
            let value: f64 = number.parse().map_err(|_| not_a_duration())?;
            let seconds = value * unit_ns as f64 / 1e9;
            (seconds.is_finite() && seconds < 1e9).then(|| Duration::from_secs_f64(seconds))
        }
    };
    match duration {
        Some(d) if !d.is_zero() && d <= MAX_DURATION => Ok(d),
        _ => Err(format!("'{text}' must be more than 0 and at most a week")),
    }
}

/// The longest duration any flag takes.
const MAX_DURATION: Duration = Duration::from_secs(7 * 86_400);

/// A count with its thousands grouped: `10,000`.
pub fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(d);
    }
    out
}
