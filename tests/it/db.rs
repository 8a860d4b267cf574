//! The private PostgreSQL cluster: it starts with TechEmpower's table, answers the row
//! lookup, and leaves no process and no directory behind, stopped or killed; `db
//! start|stop|status` by hand; `pgbench`'s rate for the same lookup; and a missing
//! PostgreSQL said in one line. Skipped where PostgreSQL cannot run, unless `CI=true`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use iomodels::db::{self, pgbench, postmaster, world, Settings};
use postgres::{Client, NoTls};

use crate::util::pg;

fn iomodels(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_iomodels"));
    cmd.args(args).stdin(Stdio::null());
    for (name, value) in env {
        cmd.env(name, value);
    }
    cmd.output().expect("run iomodels")
}

/// Polls `done` for up to 10 s.
fn eventually(mut done: impl FnMut() -> bool) -> bool {
    let give_up = Instant::now() + Duration::from_secs(10);
    while Instant::now() < give_up {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done()
}

/// The cluster directory a Unix-socket URL names.
fn dir_of(url: &str) -> PathBuf {
    let host = url
        .strip_prefix("postgres://postgres@")
        .and_then(|rest| rest.split(':').next())
        .unwrap_or_else(|| panic!("not a cluster's URL: {url}"));
    PathBuf::from(host.replace("%2F", "/"))
}

/// Kills a child process (`iomodels db run`) if the test ends before it does.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `iomodels db stop` when dropped: a failed test leaves no cluster of `db start`.
struct DbStopOnDrop<'a>(&'a [(&'a str, &'a Path)]);

impl Drop for DbStopOnDrop<'_> {
    fn drop(&mut self) {
        iomodels(&["db", "stop"], self.0);
    }
}

/// Looks up ids 1, 5000 and 10000 with the lookup every model makes; id 0 is no row.
fn assert_lookups(url: &str) {
    let mut client = Client::connect(url, NoTls).expect("connect with the cluster's URL");
    let lookup = client.prepare(world::SELECT_ROW).unwrap();
    for id in [1, 5000, world::ROWS] {
        let row = client.query_one(&lookup, &[&id]).unwrap();
        let (found, number): (i32, i32) = (row.get(0), row.get(1));
        assert_eq!(found, id);
        assert!((1..=world::ROWS).contains(&number), "randomNumber {number}");
    }
    assert!(client.query_opt(&lookup, &[&0]).unwrap().is_none());
    world::check(&mut client).expect("10,000 rows of TechEmpower's table");
}

#[test]
fn a_cluster_has_the_world_table_and_leaves_no_trace() {
    let name = "a_cluster_has_the_world_table_and_leaves_no_trace";
    let Some(cluster) = pg::own_cluster(name, &Settings::default()) else {
        return;
    };
    assert_lookups(cluster.url());
    let dir = cluster.dir().to_path_buf();
    assert!(dir.join("data/PG_VERSION").is_file(), "{}", dir.display());
    // (A backend of the lookups above may still be exiting and listed: only the
    // count is asked of them here, and that every one is gone after the stop.)
    let pids = cluster.postgres_pids();
    assert!(pids.len() > 1, "the postmaster and its helpers: {pids:?}");
    cluster.stop().expect("stop");
    assert!(!dir.exists(), "{} left behind", dir.display());
    let left: Vec<_> = pids
        .into_iter()
        .filter(|&p| postmaster::is_alive(p))
        .collect();
    assert!(left.is_empty(), "still running after stop: {left:?}");
}

#[test]
fn a_loopback_cluster_answers_on_its_port() {
    let settings = Settings {
        listen: db::Listen::Loopback,
        ..Settings::default()
    };
    let Some(cluster) = pg::own_cluster("a_loopback_cluster_answers_on_its_port", &settings) else {
        return;
    };
    assert!(
        cluster.url().starts_with("postgres://postgres@127.0.0.1:"),
        "{}",
        cluster.url()
    );
    assert_lookups(cluster.url());
    cluster.stop().expect("stop");
}

#[test]
fn the_shared_cluster_answers_the_lookup() {
    let Some(url) = pg::shared_url("the_shared_cluster_answers_the_lookup") else {
        return;
    };
    assert_lookups(url);
}

#[test]
fn pgbench_measures_the_lookup() {
    let Some(url) = pg::shared_url("pgbench_measures_the_lookup") else {
        return;
    };
    let result = pgbench::run(url, 4, Duration::from_secs(2)).expect("pgbench");
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    assert_eq!((result.clients, result.duration_secs), (4, 2));
    assert_eq!(result.threads, cpus.min(4));
    assert!(result.transactions > 0 && result.failed == 0, "{result:?}");
    assert!(
        result.tps > 0.0 && result.latency_avg_ms > 0.0,
        "{result:?}"
    );
}

#[test]
fn pgbench_beyond_max_connections_is_one_clear_line() {
    let settings = Settings {
        max_connections: 10,
        ..Settings::default()
    };
    let name = "pgbench_beyond_max_connections_is_one_clear_line";
    let Some(cluster) = pg::own_cluster(name, &settings) else {
        return;
    };
    let err = pgbench::run(cluster.url(), 20, Duration::from_secs(1)).unwrap_err();
    let message = format!("{err:#}");
    assert!(message.contains("max_connections (10)"), "{message}");
    assert!(!message.contains('\n'), "{message}");
    let err = pgbench::run(
        "postgres://postgres@%2Fnonexistent:5432/x",
        1,
        Duration::from_secs(1),
    )
    .unwrap_err();
    assert!(format!("{err:#}").contains("/nonexistent"), "{err:#}");
    cluster.stop().expect("stop");
}

#[test]
fn a_killed_parent_leaves_no_postgres_and_the_janitor_its_directory() {
    let name = "a_killed_parent_leaves_no_postgres_and_the_janitor_its_directory";
    if let Err(why) = db::install::Install::find() {
        return pg::skip(name, &why.to_string()).unwrap_or(());
    }
    let mut child = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_iomodels"))
            .args(["db", "run"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn iomodels db run"),
    );
    let mut url = String::new();
    let stdout = child.0.stdout.take().unwrap();
    BufReader::new(stdout).read_line(&mut url).unwrap();
    let dir = dir_of(url.trim());
    let postmaster = postmaster::of_data_dir(&dir.join("data")).expect("a running postmaster");
    let mut pids = postmaster::children(postmaster);
    pids.push(postmaster);
    drop(child); // SIGKILL
    assert!(
        eventually(|| pids.iter().all(|&pid| !postmaster::is_alive(pid))),
        "PostgreSQL outlived its killed parent: {:?}",
        pids.iter()
            .filter(|&&p| postmaster::is_alive(p))
            .collect::<Vec<_>>()
    );
    // The directory stays until the next cluster's janitor (or this one) comes by.
    assert!(dir.exists());
    let server_user = db::install::server_user().unwrap().map(|(uid, _)| uid);
    let removed = db::dir::janitor(server_user);
    assert!(removed.contains(&dir), "{removed:?}");
    assert!(!dir.exists());
}

#[test]
fn db_start_status_stop_round_trip() {
    let name = "db_start_status_stop_round_trip";
    if let Err(why) = db::install::Install::find() {
        return pg::skip(name, &why.to_string()).unwrap_or(());
    }
    let runtime = crate::util::scratch().join(format!("db-runtime-{}", std::process::id()));
    std::fs::create_dir_all(&runtime).unwrap();
    let env = [("XDG_RUNTIME_DIR", runtime.as_path())];
    let _stop = DbStopOnDrop(&env);
    let start = iomodels(&["db", "start"], &env);
    let stderr = String::from_utf8_lossy(&start.stderr);
    assert!(start.status.success(), "{stderr}");
    let url = String::from_utf8(start.stdout).unwrap().trim().to_string();
    assert!(stderr.contains("fsync=off"), "{stderr}");
    let dir = dir_of(&url);
    let pid = postmaster::of_data_dir(&dir.join("data")).expect("it outlives `db start`");
    assert_lookups(&url);

    let again = iomodels(&["db", "start"], &env);
    assert!(again.status.success());
    assert_eq!(String::from_utf8_lossy(&again.stdout).trim(), url);
    assert!(String::from_utf8_lossy(&again.stderr).contains("already running"));
    let status = iomodels(&["db", "status"], &env);
    assert!(status.status.success());
    assert_eq!(String::from_utf8_lossy(&status.stdout).trim(), url);

    let stop = iomodels(&["db", "stop"], &env);
    assert!(
        stop.status.success(),
        "{}",
        String::from_utf8_lossy(&stop.stderr)
    );
    assert!(!dir.exists(), "{} left behind", dir.display());
    assert!(
        eventually(|| !postmaster::is_alive(pid)),
        "pid {pid} still runs"
    );
    let status = iomodels(&["db", "status"], &env);
    assert_eq!(status.status.code(), Some(1));
    assert!(
        std::fs::read_dir(&runtime).unwrap().next().is_none(),
        "the record stays"
    );
    std::fs::remove_dir(&runtime).unwrap();
}

#[test]
fn missing_postgresql_is_one_line_naming_the_package() {
    let empty = crate::util::scratch().join("db-no-postgresql");
    std::fs::create_dir_all(&empty).unwrap();
    for command in [["db", "run"], ["db", "start"]] {
        let env = [
            (db::install::BIN_ENV, empty.as_path()),
            ("XDG_RUNTIME_DIR", empty.as_path()),
        ];
        let out = iomodels(&command, &env);
        assert_eq!(out.status.code(), Some(1), "{command:?}");
        assert!(out.stdout.is_empty());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            stderr,
            "iomodels: PostgreSQL not found (initdb, postgres, pgbench): install the \
             'postgresql' package (Debian/Ubuntu: apt-get install postgresql)\n"
        );
    }
}

#[test]
fn a_server_that_cannot_start_is_one_line_with_its_log_and_leaves_nothing() {
    let name = "a_server_that_cannot_start_is_one_line_with_its_log_and_leaves_nothing";
    if let Err(why) = db::install::Install::find() {
        return pg::skip(name, &why.to_string()).unwrap_or(());
    }
    // A buffer cache of 64 TiB, beyond what the parameter can hold: the server says so
    // in its log and exits at once (asking for no memory).
    let settings = Settings {
        shared_buffers_mib: 64 << 20,
        ..Settings::default()
    };
    let err = db::Cluster::start(&settings).unwrap_err();
    let message = format!("{err:#}");
    assert!(message.contains("shared_buffers"), "{message}");
    assert!(
        message.starts_with("postgres ended while starting"),
        "{message}"
    );
    assert!(!message.contains('\n'), "{message}");
    let log = message
        .split_whitespace()
        .find(|word| word.ends_with("/postgres.log"))
        .unwrap_or_else(|| panic!("no log named: {message}"));
    assert!(
        !Path::new(log).parent().unwrap().exists(),
        "{log} left behind"
    );
}
