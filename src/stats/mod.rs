//! Aggregation of what the load generator measured, oha's pipeline: each bench worker
//! thread records raw samples into its own [`Recorder`] (no locks, no channel per
//! request), the recorders are added into one, and the printer reads only that
//! aggregate.
//!
//! - [`histogram`]: latency histograms (HdrHistogram, microseconds), their percentile
//!   [`Summary`], and the V2-compressed base64 form any HdrHistogram tool can add.
//! - [`recorder`]: a worker's counters and histograms, and the error kinds it counts.

pub mod histogram;
pub mod recorder;

pub use histogram::{decode_v2_base64, encode_v2_base64, new_histogram, Summary};
pub use recorder::{ErrorKind, Errors, Recorder};
