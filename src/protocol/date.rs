//! The HTTP `Date` header value, formatted at most once per second per thread.
//!
//! The second is read from `CLOCK_REALTIME_COARSE`: the time of the last scheduler
//! tick, a plain read of memory the kernel shares with every process, where the
//! precise clock reads the CPU's time-stamp counter on every response (slow under some
//! hypervisors). A Date header names a second; a few milliseconds late is as good.

use std::cell::RefCell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::time::{clock_gettime, ClockId};

/// Length of an IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
pub const DATE_LEN: usize = 29;

struct Cached {
    second: u64,
    text: [u8; DATE_LEN],
}

thread_local! {
    static CACHE: RefCell<Cached> = const {
        RefCell::new(Cached { second: u64::MAX, text: [b' '; DATE_LEN] })
    };
}

/// Appends the current date, refreshed whenever the wall-clock second changes.
pub fn append_now(out: &mut Vec<u8>) {
    let second = clock_gettime(ClockId::CLOCK_REALTIME_COARSE).map_or_else(
        |_| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        },
        |now| u64::try_from(now.tv_sec()).unwrap_or(0),
    );
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.second != second {
            let text = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(second));
            cache.text.copy_from_slice(&text.as_bytes()[..DATE_LEN]);
            cache.second = second;
        }
        out.extend_from_slice(&cache.text);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_an_imf_fixdate() {
        let mut out = Vec::new();
        append_now(&mut out);
        let text = std::str::from_utf8(&out).unwrap();
        assert_eq!(text.len(), DATE_LEN);
        assert!(text.ends_with(" GMT"), "{text}");
        httpdate::parse_http_date(text).expect("parses back");
    }
}
