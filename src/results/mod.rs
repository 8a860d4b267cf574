//! The data the measuring layers produce, one serde type for each document
//! (`Serialize + Deserialize`): written as JSON by bench and compare, read back by
//! compare, the report and `diff`. No layer keeps a mirror of another's schema.
//!
//! - [`run`]: one `iomodels bench` run (`schema/bench.schema.json`).
//! - [`comparison`]: one `iomodels compare` (`schema/compare.schema.json`): cells of
//!   runs, their figures, medians and spreads.

pub mod comparison;
pub mod run;
