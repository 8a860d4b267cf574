//! The data the measuring layers produce, one serde type for each document
//! (`Serialize + Deserialize`): written as JSON by bench and compare, read back by
//! compare, the report and `diff`. No layer keeps a mirror of another's schema.
//!
//! - [`run`]: one `iomodels bench` run (`schema/bench.schema.json`); [`hold`]: what a
//!   hold adds to it (the limits checked, memory by cache and end, losses by cause).
//! - [`merge`]: several bench runs as one, exactly (histograms added, counts summed):
//!   bench's own processes, and `iomodels merge` over runs from several machines.
//! - [`comparison`]: one `iomodels compare` (`schema/compare.schema.json`): rounds, and
//!   cells of runs with their tiers.
//! - [`figures`]: the figures of one run, and their median and spread over a cell's runs.
//! - [`tiers`]: which models the rounds can tell apart, as tiers.
//! - [`validate`]: what a document read from a file may hold, checked as it is read.
//! - [`work`]: the work workloads (`cpu`, `wait`): what each request asks, the variants
//!   they run, and the figures they add; [`ideal`]: their ideal bound, which they rank
//!   by.
//! - [`db`]: the database workloads (`db`, `queries`): the database they read, pgbench's
//!   rate in each round, the variants they run, and x pgbench, which they rank by.
//! - `testing` (tests only): comparisons made by hand.

pub mod comparison;
pub mod db;
pub mod figures;
pub mod hold;
pub mod ideal;
pub mod merge;
pub mod run;
#[cfg(test)]
pub mod testing;
pub mod tiers;
pub mod validate;
pub mod work;
