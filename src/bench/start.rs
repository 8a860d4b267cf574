//! `bench --start-at TIME`: a start time on the wall clock, so that bench runs on
//! several machines start together and their runs merge over one window
//! ([`crate::results::merge`] reports how far apart they really started).
//!
//! TIME is Unix seconds (`1767225600`, `1767225600.5`) or RFC 3339
//! (`2026-01-01T00:00:00Z`, `2026-01-01T01:00:00.5+01:00`). A time more than a second
//! past or more than an hour ahead is refused: either is a mistake (a clock, a zone),
//! not a plan.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How far in the past a start time may be: the command took a moment to arrive.
pub const LATE_BY_AT_MOST: Duration = Duration::from_secs(1);
/// How far ahead a start time may be.
pub const AHEAD_BY_AT_MOST: Duration = Duration::from_secs(3600);

/// Parses TIME, Unix seconds or RFC 3339, into seconds since the Unix epoch.
pub fn parse_start_at(text: &str) -> Result<f64, String> {
    let text = text.trim();
    let seconds = match text.parse::<f64>() {
        Ok(seconds) => seconds,
        Err(_) => parse_rfc3339(text).ok_or_else(|| {
            format!("'{text}' is neither Unix seconds nor an RFC 3339 time (2026-01-01T00:00:00Z)")
        })?,
    };
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(format!("'{text}' is not a time after 1970"));
    }
    Ok(seconds)
}

/// Checks that `at` (Unix seconds) is neither more than [`LATE_BY_AT_MOST`] past nor
/// more than [`AHEAD_BY_AT_MOST`] ahead of `now`; the error says which, in one line.
pub fn check_start_at(at: f64, now: f64) -> Result<(), String> {
    if at < now - LATE_BY_AT_MOST.as_secs_f64() {
        return Err(format!(
            "--start-at {at}: {:.1} s in the past (now is {now:.1}); give a later time",
            now - at
        ));
    }
    if at > now + AHEAD_BY_AT_MOST.as_secs_f64() {
        return Err(format!(
            "--start-at {at}: {:.0} s ahead, more than an hour (now is {now:.1})",
            at - now
        ));
    }
    Ok(())
}

/// Now on the wall clock, in seconds since the Unix epoch.
pub fn unix_now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// Sleeps until the wall clock reads `at` (Unix seconds), or `stop` is set; returns
/// early if it already does. Sleeps in short steps, so a stop is heeded at once and a
/// clock stepped meanwhile is followed.
pub fn wait_until(at: f64, stop: &AtomicBool) {
    const STEP: Duration = Duration::from_millis(50);
    loop {
        let left = at - unix_now_s();
        if left <= 0.0 || stop.load(Ordering::Relaxed) {
            return;
        }
        std::thread::sleep(STEP.min(Duration::from_secs_f64(left)));
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` in Unix seconds (`t` or a space may part date
/// and time, as RFC 3339 allows).
fn parse_rfc3339(text: &str) -> Option<f64> {
    let (date, time) = text.split_once(['T', 't', ' '])?;
    let mut ymd = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (ymd.next()??, ymd.next()??, ymd.next()??);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let (clock, offset_s) = split_offset(time)?;
    let (hms, frac) = match clock.split_once('.') {
        Some((hms, frac)) if frac.bytes().all(|b| b.is_ascii_digit()) => {
            (hms, format!("0.{frac}").parse::<f64>().ok()?)
        }
        Some(_) => return None,
        None => (clock, 0.0),
    };
    let mut parts = hms.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let (h, m, s) = (parts.next()??, parts.next()??, parts.next()??);
    if h > 23 || m > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + h * 3600 + m * 60 + s - offset_s;
    Some(seconds as f64 + frac)
}

/// The clock part and the zone's offset east of UTC, in seconds.
fn split_offset(time: &str) -> Option<(&str, i64)> {
    if let Some(clock) = time.strip_suffix(['Z', 'z']) {
        return Some((clock, 0));
    }
    let at = time.rfind(['+', '-'])?;
    let (clock, zone) = time.split_at(at);
    let sign = if zone.starts_with('-') { -1 } else { 1 };
    let (h, m) = zone[1..].split_once(':')?;
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 23 && m <= 59).then_some((clock, sign * (h * 3600 + m * 60)))
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (Howard
/// Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_seconds_and_rfc3339_name_the_same_instants() {
        assert_eq!(parse_start_at("1767225600"), Ok(1_767_225_600.0));
        assert_eq!(parse_start_at("1767225600.25"), Ok(1_767_225_600.25));
        assert_eq!(parse_start_at("2026-01-01T00:00:00Z"), Ok(1_767_225_600.0));
        assert_eq!(
            parse_start_at("2026-01-01T01:00:00.5+01:00"),
            Ok(1_767_225_600.5)
        );
        assert_eq!(
            parse_start_at("2025-12-31T23:30:00-00:30"),
            Ok(1_767_225_600.0)
        );
        assert_eq!(parse_start_at("1970-01-01T00:00:00Z"), Ok(0.0));
        assert_eq!(parse_start_at("2000-02-29T12:00:00Z"), Ok(951_825_600.0));
    }

    #[test]
    fn what_is_not_a_time_is_refused() {
        for bad in [
            "soon",
            "2026-13-01T00:00:00Z",
            "2026-01-01T00:00:00",
            "-5",
            "inf",
        ] {
            assert!(parse_start_at(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_time_long_past_or_far_ahead_is_refused() {
        let now = 1_000_000.0;
        assert!(check_start_at(now - 0.5, now).is_ok());
        assert!(check_start_at(now + 3599.0, now).is_ok());
        assert!(check_start_at(now - 2.0, now)
            .unwrap_err()
            .contains("in the past"));
        assert!(check_start_at(now + 3601.0, now)
            .unwrap_err()
            .contains("more than an hour"));
    }

    #[test]
    fn waiting_ends_at_the_time_or_on_stop() {
        let stop = AtomicBool::new(false);
        let at = unix_now_s() + 0.2;
        wait_until(at, &stop);
        let late = unix_now_s() - at;
        assert!((0.0..0.1).contains(&late), "{late}");
        stop.store(true, Ordering::Relaxed);
        let before = std::time::Instant::now();
        wait_until(unix_now_s() + 60.0, &stop);
        assert!(before.elapsed() < Duration::from_secs(1));
    }
}
