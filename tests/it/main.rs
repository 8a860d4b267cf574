//! Integration tests: the real `iomodels` binary, driven over loopback sockets.
//!
//! - `serve_echo`, `serve_http`, `serve_lifecycle`: every model under every protocol,
//!   generated from one list (`util::models`), never copied per model.
//! - `serve_cli`: what `list` and `serve` say to a user.

#[macro_use]
mod util;

mod serve_cli;
mod serve_echo;
mod serve_http;
mod serve_lifecycle;
