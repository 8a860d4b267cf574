//! TechEmpower's database tests (`/db`, `/queries`) under every model, against a real
//! PostgreSQL (`util::pg`: skipped in one line where it cannot run, unless `CI=true`):
//! the rows are the table's, `/queries` is clamped to 1..=500, pipelined requests are
//! answered in order, a wrong `--database` refuses to start, a database that goes away
//! is `503` with its reason and is used again once it is back, and a stopped server
//! leaves no connection behind. Each model reads its own way (its family's driver and
//! pool); these hold whatever the way.

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use postgres::{Client, NoTls};
use serde_json::Value;

use crate::util::http::{get, read_responses, Response};
use crate::util::{pg, reads_to_eof, ServerProc};

per_model!([
    db_answers_a_row_of_the_table,
    queries_are_clamped_to_1_to_500,
    db_pipelined_in_order,
    a_stopped_server_leaves_no_connection_open,
    a_database_that_does_not_answer_refuses_the_start,
]);

/// How long a database that came back may take to be used again.
const RECOVERY: Duration = Duration::from_secs(10);

/// Database requests answered in a row that show a server reads again.
const IN_A_ROW: usize = 20;

/// How long PostgreSQL may take to end a backend whose client went away.
const BACKENDS_END: Duration = Duration::from_secs(10);

/// `url` with `application_name` set, so the test can find its server's connections
/// in `pg_stat_activity` among those of the tests running beside it.
fn tagged(url: &str, name: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}application_name={name}")
}

/// A name no other test's server uses.
fn tag(test: &str, model: &str) -> String {
    format!("{test}-{model}-{}", std::process::id())
}

/// `url` with its database (the path of the URL) replaced by `dbname`.
fn on_database(url: &str, dbname: &str) -> String {
    let (server, _) = url.rsplit_once('/').expect("a URL with a database");
    format!("{server}/{dbname}")
}

/// The `World` table, id to randomNumber, read once.
fn table(url: &str) -> &'static HashMap<i32, i32> {
    static TABLE: OnceLock<HashMap<i32, i32>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut client = Client::connect(url, NoTls).expect("connect to read World");
        client
            .query("SELECT id, randomNumber FROM World", &[])
            .expect("read World")
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect()
    })
}

/// `value` is one row of the table: `{"id":N,"randomNumber":M}`, N in 1..=10000, M
/// what the table holds for N.
fn assert_row(value: &Value, url: &str, model: &str) {
    let object = value
        .as_object()
        .unwrap_or_else(|| panic!("{model}: {value}"));
    assert_eq!(object.len(), 2, "{model}: {value}");
    let id = object["id"].as_i64().expect("an integer id");
    let number = object["randomNumber"]
        .as_i64()
        .expect("an integer randomNumber");
    assert!((1..=10_000).contains(&id), "{model}: id {id}");
    assert_eq!(
        table(url).get(&(id as i32)).copied(),
        Some(number as i32),
        "{model}: row {id} is not the table's"
    );
}

fn json(r: &Response, model: &str) -> Value {
    assert_eq!(
        (r.status, r.header("content-type")),
        (200, Some("application/json")),
        "{model}: {}",
        String::from_utf8_lossy(&r.body)
    );
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{model}: not JSON: {e}"))
}

/// The rows of a `/queries` reply, each checked against the table.
fn rows(r: &Response, url: &str, model: &str) -> usize {
    let value = json(r, model);
    let rows = value
        .as_array()
        .unwrap_or_else(|| panic!("{model}: {value}"));
    for row in rows {
        assert_row(row, url, model);
    }
    rows.len()
}

fn db_answers_a_row_of_the_table(model: &str) {
    let Some(url) = pg::shared_url("db_answers_a_row_of_the_table") else {
        return;
    };
    let server = ServerProc::start(model, "http", &["--database", url]);
    let mut stream = server.connect();
    let mut carry = Vec::new();
    for _ in 0..5 {
        stream.write_all(get("/db").as_bytes()).unwrap();
        let r = &read_responses(&mut stream, &mut carry, &[false])[0];
        assert_row(&json(r, model), url, model);
    }
}

fn queries_are_clamped_to_1_to_500(model: &str) {
    let Some(url) = pg::shared_url("queries_are_clamped_to_1_to_500") else {
        return;
    };
    let server = ServerProc::start(model, "http", &["--database", url]);
    let mut stream = server.connect();
    let mut carry = Vec::new();
    for (query, n) in [("600", 500), ("x", 1), ("0", 1), ("20", 20), ("1", 1)] {
        let path = format!("/queries?queries={query}");
        stream.write_all(get(&path).as_bytes()).unwrap();
        let r = &read_responses(&mut stream, &mut carry, &[false])[0];
        assert_eq!(rows(r, url, model), n, "{model}: {path}");
    }
}

fn db_pipelined_in_order(model: &str) {
    let Some(url) = pg::shared_url("db_pipelined_in_order") else {
        return;
    };
    let server = ServerProc::start(model, "http", &["--database", url]);
    let mut stream = server.connect();
    let burst = format!(
        "{}{}{}{}GET /queries?queries=2 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        get("/db"),
        get("/queries?queries=3"),
        get("/"),
        get("/db"),
    );
    stream.write_all(burst.as_bytes()).unwrap();
    let all = read_responses(&mut stream, &mut Vec::new(), &[false; 5]);
    assert_row(&json(&all[0], model), url, model);
    assert_eq!(rows(&all[1], url, model), 3, "{model}: in request order");
    assert_eq!(all[2].body, b"Hello, World!", "{model}: in request order");
    assert_row(&json(&all[3], model), url, model);
    assert_eq!(rows(&all[4], url, model), 2, "{model}: in request order");
    assert!(reads_to_eof(&mut stream), "{model}: closed after the last");
}

/// The connections `pg_stat_activity` shows with this `application_name`.
fn connections(admin: &mut Client, name: &str) -> i64 {
    admin
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
            &[&name],
        )
        .expect("read pg_stat_activity")
        .get(0)
}

fn a_stopped_server_leaves_no_connection_open(model: &str) {
    let Some(url) = pg::shared_url("a_stopped_server_leaves_no_connection_open") else {
        return;
    };
    let name = tag("stopped", model);
    let mut server = ServerProc::start(model, "http", &["--database", &tagged(url, &name)]);
    let mut stream = server.connect();
    stream
        .write_all(get("/queries?queries=5").as_bytes())
        .unwrap();
    let r = &read_responses(&mut stream, &mut Vec::new(), &[false])[0];
    assert_eq!(rows(r, url, model), 5);
    let mut admin = Client::connect(url, NoTls).expect("connect to watch");
    assert!(connections(&mut admin, &name) >= 1, "{model}: none open");
    let (status, _) = server.terminate();
    assert!(status.success(), "{model}: {status}");
    let stopped = Instant::now();
    loop {
        let open = connections(&mut admin, &name);
        if open == 0 {
            break;
        }
        assert!(
            stopped.elapsed() < BACKENDS_END,
            "{model}: {open} connections open {BACKENDS_END:?} after the server stopped"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn serve(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_iomodels"))
        .arg("serve")
        .args(args)
        .args(["--proto", "http", "--addr", "127.0.0.1:0"])
        .output()
        .expect("run iomodels serve")
}

/// Exit code 2, one line on stderr that mentions `mentions`, and no `listening on`.
fn assert_refused(output: &Output, model: &str, mentions: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{model}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{model}: one line: {stderr}");
    assert!(
        stderr.contains(mentions),
        "{model}: {stderr:?}, not {mentions:?}"
    );
    assert!(output.stdout.is_empty(), "{model}: it started");
}

/// A database nobody listens for, and (with PostgreSQL) one the server does not have:
/// the server does not start, and says why in one line.
fn a_database_that_does_not_answer_refuses_the_start(model: &str) {
    let nowhere = format!(
        "host={}/no-such-socket-dir dbname=hello_world user=postgres",
        crate::util::scratch().display()
    );
    let output = serve(&[model, "--database", &nowhere]);
    assert_refused(&output, model, "No such file or directory");
    let Some(url) = pg::shared_url("a_database_that_does_not_answer_refuses_the_start") else {
        return;
    };
    let output = serve(&[model, "--database", &on_database(url, "no_such_db")]);
    assert_refused(&output, model, "\"no_such_db\" does not exist");
}

/// `--db-pool` is for the models that pool their connections; the others refuse it in
/// one line (before connecting: no database is needed to see it).
#[test]
fn db_pool_is_refused_where_connections_go_with_threads_or_loops() {
    let nowhere = "host=/nonexistent dbname=x";
    for (model, why) in [
        ("threads", "connection of its own"),
        ("prefork", "connection of its own"),
        ("epoll", "event loop"),
        ("uring", "event loop"),
    ] {
        let output = serve(&[model, "--database", nowhere, "--db-pool", "4"]);
        assert_refused(&output, model, why);
    }
    let output = serve(&["async", "--db-pool", "4"]);
    assert_refused(&output, "async", "--database");
}

/// `--db-pool N` is the most connections async, async-mt and coroutines open, however
/// many clients query at once.
#[test]
fn db_pool_bounds_the_connections_of_the_models_that_pool() {
    let Some(url) = pg::shared_url("db_pool_bounds_the_connections_of_the_models_that_pool") else {
        return;
    };
    let mut admin = Client::connect(url, NoTls).expect("connect to watch");
    for (model, pool) in [("async", 2), ("async-mt", 3), ("coroutines", 2)] {
        let name = tag("pool", model);
        let database = tagged(url, &name);
        let pool_text = pool.to_string();
        let server = ServerProc::start(
            model,
            "http",
            &["--database", &database, "--db-pool", &pool_text],
        );
        let mut clients: Vec<_> = (0..8).map(|_| server.connect()).collect();
        for stream in &mut clients {
            stream
                .write_all(get("/queries?queries=50").as_bytes())
                .unwrap();
        }
        for stream in &mut clients {
            let r = &read_responses(stream, &mut Vec::new(), &[false])[0];
            assert_eq!(rows(r, url, model), 50, "{model}");
        }
        let open = connections(&mut admin, &name);
        assert!(
            (1..=pool).contains(&open),
            "{model} --db-pool {pool}: {open} connections"
        );
    }
}

/// A database that goes away while the servers run (it drops their connections and
/// refuses new ones) is `503` with its reason under every model, which keeps serving;
/// once it is back, every model reads from it again, without a restart.
#[test]
fn a_database_that_goes_away_is_503_and_used_again_when_back() {
    let test = "a_database_that_goes_away_is_503_and_used_again_when_back";
    let Some(url) = pg::shared_url(test) else {
        return;
    };
    // A database of this test's own, so the other tests' servers are not disturbed.
    let gone = format!("iomodels_gone_{}", std::process::id());
    let mut admin = Client::connect(&on_database(url, "postgres"), NoTls).expect("admin");
    admin
        .batch_execute(&format!("CREATE DATABASE {gone}"))
        .expect("create the database");
    let gone_url = on_database(url, &gone);
    let mut filler = Client::connect(&gone_url, NoTls).expect("connect to fill");
    filler
        .batch_execute(
            "CREATE TABLE World (id integer PRIMARY KEY, randomNumber integer NOT NULL);
             INSERT INTO World SELECT x, x FROM generate_series(1, 10000) AS x",
        )
        .expect("fill World");
    drop(filler);
    let servers: Vec<(&str, ServerProc)> = crate::util::models::all()
        .iter()
        .map(|&model| {
            (
                model,
                ServerProc::start(model, "http", &["--database", &gone_url]),
            )
        })
        .collect();
    for (model, server) in &servers {
        assert_eq!(one(server, "/db").status, 200, "{model}: before");
    }

    admin
        .batch_execute(&format!(
            "ALTER DATABASE {gone} ALLOW_CONNECTIONS false;
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{gone}'"
        ))
        .expect("take the database away");
    wait_for_no_backends(&mut admin, &gone);
    for (model, server) in &servers {
        for path in ["/db", "/queries?queries=3"] {
            let r = one(server, path);
            let reason = String::from_utf8_lossy(&r.body);
            assert_eq!(r.status, 503, "{model}: {path} while gone: {reason}");
            assert!(reason.contains("database"), "{model}: {reason:?}");
        }
        assert_eq!(one(server, "/").status, 200, "{model}: still serving");
    }

    admin
        .batch_execute(&format!("ALTER DATABASE {gone} ALLOW_CONNECTIONS true"))
        .expect("bring the database back");
    for (model, server) in &servers {
        assert_reads_again(model, server);
    }
    drop(servers);
    admin
        .batch_execute(&format!("DROP DATABASE {gone} WITH (FORCE)"))
        .expect("drop the database");
}

/// `server` answers [`IN_A_ROW`] database requests in a row within [`RECOVERY`].
/// Every connection it held was cut: one not used since may still answer `503` once,
/// at its next use, before it is replaced (a pool's idle connection, a worker or pool
/// thread that served none of the requests made while the database was away).
fn assert_reads_again(model: &str, server: &ServerProc) {
    let back = Instant::now();
    let mut in_a_row = 0;
    while in_a_row < IN_A_ROW {
        let path = ["/db", "/queries?queries=4"][in_a_row % 2];
        let r = one(server, path);
        match r.status {
            200 => in_a_row += 1,
            503 => in_a_row = 0,
            other => panic!("{model}: {path} answered {other} once the database was back"),
        }
        assert!(
            back.elapsed() < RECOVERY,
            "{model}: not read again within {RECOVERY:?}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
}

/// One request on a connection of its own (closed after it, so a model that serves
/// one connection at a time moves on).
fn one(server: &ServerProc, path: &str) -> Response {
    let mut stream = server.connect();
    let request = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    read_responses(&mut stream, &mut Vec::new(), &[false]).remove(0)
}

/// Waits until no backend serves `dbname`: pg_terminate_backend only signals them.
fn wait_for_no_backends(admin: &mut Client, dbname: &str) {
    let started = Instant::now();
    loop {
        let left: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1",
                &[&dbname],
            )
            .expect("read pg_stat_activity")
            .get(0);
        if left == 0 {
            return;
        }
        assert!(started.elapsed() < BACKENDS_END, "{left} backends left");
        std::thread::sleep(Duration::from_millis(20));
    }
}
