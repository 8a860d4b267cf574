//! The event loops' own way to the database (`--database`, `--offload` unset): each
//! loop model answers `/db` and `/queries` with the table's rows, from one pipelined
//! connection per loop whatever the number of clients, and a connection that
//! PostgreSQL ends is replaced on the next request.
//!
//! They need PostgreSQL: the private cluster the tests share (`util::pg`); where it
//! cannot run, each test says `skipped` in one line (and fails where `CI=true`).

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use postgres::{Client, NoTls};
use serde_json::Value;

use crate::util::http::{get, read_responses, Response};
use crate::util::pg::shared_url;
use crate::util::ServerProc;

per_loop_model!([
    loop_rows_come_from_the_table_over_one_connection,
    loop_queries_of_concurrent_clients_are_answered,
    loop_reconnects_after_postgres_ends_its_connection,
]);

/// `url` with the connections' `application_name` set, so a test finds its server's.
fn named(url: &str, name: &str) -> String {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let joint = if url.contains('?') { '&' } else { '?' };
        format!("{url}{joint}application_name={name}")
    } else {
        format!("{url} application_name={name}")
    }
}

/// A server of `model` (one loop) reading from `url` under the name `name`, and a
/// client of the test's own to check what it answers.
fn start(model: &str, url: &str, name: &str) -> (ServerProc, Client) {
    let server = ServerProc::start(
        model,
        "http",
        &["--database", &named(url, name), "--workers", "1"],
    );
    let client = Client::connect(url, NoTls).expect("the test's own connection");
    (server, client)
}

/// GETs `path` on a connection of its own.
fn fetch(server: &ServerProc, path: &str) -> Response {
    let mut stream = server.connect();
    stream.write_all(get(path).as_bytes()).unwrap();
    read_responses(&mut stream, &mut Vec::new(), &[false]).remove(0)
}

/// The rows of a reply, each checked against the table: (id, randomNumber).
fn rows(reply: &Response, table: &mut Client) -> Vec<(i32, i32)> {
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let json: Value = serde_json::from_slice(&reply.body).expect("JSON");
    let objects = match json {
        Value::Array(items) => items,
        object => vec![object],
    };
    objects
        .iter()
        .map(|row| {
            let id = row["id"].as_i64().expect("an id") as i32;
            let number = row["randomNumber"].as_i64().expect("a randomNumber") as i32;
            let stored: i32 = table
                .query_one("SELECT randomNumber FROM World WHERE id = $1", &[&id])
                .expect("the row is in the table")
                .get(0);
            assert_eq!(number, stored, "row {id}");
            (id, number)
        })
        .collect()
}

/// The backends of the connections named `name`, once their number has settled to
/// `expected` (5 s at most; the server's start-up check closes its own a little later).
fn backends(table: &mut Client, name: &str, expected: usize) -> Vec<i32> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let pids: Vec<i32> = table
            .query(
                "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
                &[&name],
            )
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect();
        if pids.len() == expected || Instant::now() > deadline {
            return pids;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn name(model: &str, test: &str) -> String {
    format!("it-{model}-{test}-{}", std::process::id())
}

fn loop_rows_come_from_the_table_over_one_connection(model: &str) {
    let Some(url) = shared_url("loop_rows_come_from_the_table_over_one_connection") else {
        return;
    };
    let name = name(model, "rows");
    let (server, mut table) = start(model, url, &name);
    let reply = fetch(&server, "/db");
    assert!(
        serde_json::from_slice::<Value>(&reply.body).is_ok_and(|json| json.is_object()),
        "/db answers one object"
    );
    assert_eq!(rows(&reply, &mut table).len(), 1);
    assert_eq!(
        rows(&fetch(&server, "/queries?queries=20"), &mut table).len(),
        20
    );
    let most = fetch(&server, "/queries?queries=600");
    let json: Value = serde_json::from_slice(&most.body).unwrap();
    assert_eq!(json.as_array().map(Vec::len), Some(500), "clamped to 500");
    let pids = backends(&mut table, &name, 1);
    assert_eq!(pids.len(), 1, "{model}: one loop, one connection: {pids:?}");
}

fn loop_queries_of_concurrent_clients_are_answered(model: &str) {
    let Some(url) = shared_url("loop_queries_of_concurrent_clients_are_answered") else {
        return;
    };
    let name = name(model, "clients");
    let (server, mut table) = start(model, url, &name);
    // 8 clients, 5 requests each, pipelined on their connection.
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let mut stream: TcpStream = server.connect();
            std::thread::spawn(move || {
                let burst = get("/queries?queries=20").repeat(5);
                stream.write_all(burst.as_bytes()).unwrap();
                read_responses(&mut stream, &mut Vec::new(), &[false; 5])
            })
        })
        .collect();
    for client in clients {
        for reply in client.join().unwrap() {
            assert_eq!(
                reply.status,
                200,
                "{}",
                String::from_utf8_lossy(&reply.body)
            );
            let json: Value = serde_json::from_slice(&reply.body).unwrap();
            let rows = json.as_array().expect("an array");
            assert_eq!(rows.len(), 20);
            assert!(rows.iter().all(|row| row["id"]
                .as_i64()
                .is_some_and(|id| (1..=10_000).contains(&id))));
        }
    }
    let pids = backends(&mut table, &name, 1);
    assert_eq!(
        pids.len(),
        1,
        "{model}: 8 clients, one connection: {pids:?}"
    );
}

fn loop_reconnects_after_postgres_ends_its_connection(model: &str) {
    let Some(url) = shared_url("loop_reconnects_after_postgres_ends_its_connection") else {
        return;
    };
    let name = name(model, "reconnect");
    let (server, mut table) = start(model, url, &name);
    assert_eq!(fetch(&server, "/db").status, 200);
    let before = backends(&mut table, &name, 1);
    assert_eq!(before.len(), 1, "{before:?}");
    table
        .execute("SELECT pg_terminate_backend($1)", &[&before[0]])
        .unwrap();
    // The loop may hear of it with the next request, which then fails (503 with
    // PostgreSQL's reason); the one after is served on a new connection.
    let mut failed = 0;
    let served = (0..3).find(|_| {
        let reply = fetch(&server, "/db");
        if reply.status == 503 {
            assert!(
                String::from_utf8_lossy(&reply.body).contains("database"),
                "a 503 says why"
            );
            failed += 1;
        }
        reply.status == 200
    });
    assert!(
        served.is_some() && failed <= 1,
        "{model}: {failed} failures"
    );
    let after = backends(&mut table, &name, 1);
    assert!(
        after.len() == 1 && after != before,
        "{before:?} then {after:?}"
    );
}
