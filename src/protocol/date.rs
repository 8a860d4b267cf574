//! The HTTP `Date` header value, formatted at most once per second per thread.

use std::cell::RefCell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
    let now = SystemTime::now();
    let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
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
