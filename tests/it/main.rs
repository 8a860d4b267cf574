//! Integration tests: one binary, modules by topic.

mod bench_cli;
mod bench_echo;
mod bench_errors;
mod bench_hold;
mod bench_http;
mod bench_util;
