//! PostgreSQL for the tests that need a database.
//!
//! [`shared_url`] gives one private cluster to every test of this process: the first
//! test that asks starts it (initdb, start and fill take about a second here, so one
//! cluster for all beats one per test), and it is stopped and its directory removed
//! when the process exits (a libc `atexit` handler: Rust never drops a static). A test
//! process that is killed takes its cluster along (the parent-death signal), and the
//! next cluster started removes the directory it left.
//!
//! Where PostgreSQL cannot run (not installed, no user to run it as), a test prints one
//! line, `skipped NAME: REASON`, and returns; with `CI=true` it fails instead.

use std::sync::{Mutex, OnceLock};

use iomodels::db::{Cluster, Settings};

/// The shared cluster, taken out and stopped at exit.
static SHARED: Mutex<Option<Cluster>> = Mutex::new(None);

extern "C" fn stop_shared_at_exit() {
    let cluster = SHARED.lock().map(|mut shared| shared.take());
    if let Ok(Some(cluster)) = cluster {
        if let Err(err) = cluster.stop() {
            eprintln!("stopping the tests' PostgreSQL: {err:#}");
        }
    }
}

/// The URL of the cluster every test of this process shares (TechEmpower's `World`
/// table in it), or `None` after one line saying why `test` is skipped.
pub fn shared_url(test: &str) -> Option<&'static str> {
    static URL: OnceLock<Result<String, String>> = OnceLock::new();
    let started = URL.get_or_init(|| {
        let cluster = Cluster::start(&Settings::default()).map_err(|err| format!("{err:#}"))?;
        let url = cluster.url().to_string();
        *SHARED.lock().unwrap_or_else(|e| e.into_inner()) = Some(cluster);
        // SAFETY: the handler is a plain function that lives as long as the program;
        // atexit(3) only records it, and it runs once, at exit, on the exiting thread.
        let registered = unsafe { libc::atexit(stop_shared_at_exit) };
        assert_eq!(registered, 0, "atexit refused the tests' PostgreSQL stop");
        Ok(url)
    });
    match started {
        Ok(url) => Some(url),
        Err(why) => skip(test, why),
    }
}

/// A cluster of the test's own (to stop, or to start with other settings), or `None`
/// after one line saying why `test` is skipped.
pub fn own_cluster(test: &str, settings: &Settings) -> Option<Cluster> {
    match Cluster::start(settings) {
        Ok(cluster) => Some(cluster),
        Err(err) => skip(test, &format!("{err:#}")),
    }
}

/// `None`, after `skipped TEST: WHY`; a failure where `CI=true`.
pub fn skip<T>(test: &str, why: &str) -> Option<T> {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    assert!(!ci, "CI=true, but PostgreSQL cannot run for {test}: {why}");
    println!("skipped {test}: {why}");
    None
}
