//! The HTTP session under arbitrary bytes, split arbitrarily (see `iomodels_fuzz::run`).
#![no_main]

use iomodels::protocol::Protocol;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| iomodels_fuzz::run(Protocol::Http, data));
