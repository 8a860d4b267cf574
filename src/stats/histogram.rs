//! Latency histograms: one constructor so every histogram merges with every other, the
//! percentile summary the reports print, and HdrHistogram's V2 compressed encoding.

use std::time::Duration;

use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// The largest latency a histogram holds: one hour, in microseconds. Larger values are
/// clamped to it rather than lost.
pub const MAX_US: u64 = 3_600_000_000;

/// A histogram of microseconds with three significant digits (0.1% resolution), the
/// shape every histogram in the crate has, so that any two can be merged.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 3).expect("constant histogram bounds are valid")
}

/// A duration in whole microseconds, as histograms record it.
pub fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// The percentiles every report shows, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

impl Summary {
    /// The summary of `histogram`; all zeros when it is empty.
    pub fn of(histogram: &Histogram<u64>) -> Self {
        if histogram.is_empty() {
            return Self::default();
        }
        Self {
            mean: (histogram.mean() * 10.0).round() / 10.0,
            p50: histogram.value_at_quantile(0.50),
            p90: histogram.value_at_quantile(0.90),
            p99: histogram.value_at_quantile(0.99),
            p999: histogram.value_at_quantile(0.999),
            max: histogram.max(),
        }
    }
}

/// `histogram` in HdrHistogram's V2 compressed ("deflate") format, base64-encoded: the
/// form HdrHistogram's tools in every language decode and merge.
pub fn encode_v2_base64(histogram: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new()
        .serialize(histogram, &mut bytes)
        .expect("serializing into memory cannot fail");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decodes [`encode_v2_base64`]'s text into a histogram of the crate's shape
/// ([`new_histogram`]), so that it adds to any other exactly; `None` if the text is not
/// such a histogram.
pub fn decode_v2_base64(text: &str) -> Option<Histogram<u64>> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    let decoded: Histogram<u64> = Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .ok()?;
    let mut histogram = new_histogram();
    histogram.add(&decoded).ok()?;
    Some(histogram)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_known_values() {
        let mut h = new_histogram();
        for v in 1..=1000 {
            h.record(v).unwrap();
        }
        let s = Summary::of(&h);
        assert_eq!(s.p50, 500);
        assert_eq!(s.p90, 900);
        assert_eq!(s.p99, 990);
        assert_eq!(s.max, 1000);
        assert!((s.mean - 500.5).abs() < 0.2);
    }

    #[test]
    fn empty_summary_is_zero() {
        assert_eq!(Summary::of(&new_histogram()), Summary::default());
    }

    #[test]
    fn v2_base64_round_trips() {
        let mut h = new_histogram();
        h.record_n(42, 7).unwrap();
        h.record(123_456).unwrap();
        let text = encode_v2_base64(&h);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap();
        let back: Histogram<u64> = Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .unwrap();
        assert_eq!(back.len(), 8);
        assert_eq!(back.max(), h.max());
        let decoded = decode_v2_base64(&encode_v2_base64(&h)).unwrap();
        assert_eq!(decoded, h);
        assert!(decode_v2_base64("not a histogram").is_none());
    }
}
