//! PostgreSQL's own rate for the row lookup, the reference the models' `/db` is
//! measured against: `pgbench` running [`world::PGBENCH_SCRIPT`] (a random id, then
//! [`world::SELECT_ROW`]) with prepared statements (`-M prepared`), at a number of
//! clients, each on a connection of its own, for a whole number of seconds.
//!
//! pgbench spreads its clients over `-j` threads: as many as this machine has CPUs, at
//! most one a client. Each client needs one of the server's `max_connections`; a run
//! with more is refused as a whole, which [`run`] says in one line.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::install;
use super::world;
use crate::sys::process::stop_with_this_process;

/// How long past its duration a run may take (connecting 1,000 clients, a slow
/// server) before it is killed.
const OVERRUN: Duration = Duration::from_secs(60);

/// What a pgbench run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PgbenchResult {
    /// Clients, each with its own connection (`-c`).
    pub clients: u32,
    /// pgbench's threads (`-j`).
    pub threads: u32,
    /// How long it ran (`-T`), in seconds.
    pub duration_secs: u64,
    /// Transactions completed, each one lookup.
    pub transactions: u64,
    /// Transactions that failed (pgbench 15 counts them; 0 before).
    pub failed: u64,
    /// Transactions per second, the time to connect left out.
    pub tps: f64,
    /// The mean time a transaction took, in milliseconds.
    pub latency_avg_ms: f64,
    /// The time to open the connections, in milliseconds, where pgbench says it.
    pub connection_time_ms: Option<f64>,
}

/// Runs pgbench's lookup against the database at `url` (a URL or a libpq key-value
/// string, as [`Cluster::url`](super::Cluster::url) gives) with `clients` clients for
/// `duration`, rounded up to whole seconds.
pub fn run(url: &str, clients: u32, duration: Duration) -> Result<PgbenchResult> {
    if clients == 0 {
        bail!("pgbench needs at least one client");
    }
    let pgbench = install::find_pgbench()?;
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    let threads = clients.min(cpus);
    let seconds = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    let seconds = seconds.max(1);
    let mut cmd = Command::new(&pgbench);
    cmd.args(["--no-vacuum", "--protocol=prepared", "--file=-"])
        .arg(format!("--client={clients}"))
        .arg(format!("--jobs={threads}"))
        .arg(format!("--time={seconds}"))
        .arg(url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    stop_with_this_process(&mut cmd);
    let child = cmd
        .spawn()
        .with_context(|| format!("running {}", pgbench.display()))?;
    let limit = Duration::from_secs(seconds) + OVERRUN;
    let (status, stdout, stderr) = finish(child, limit)?;
    if !status.success() {
        return Err(failure(
            url,
            clients,
            &format!("failed ({status})"),
            &stderr,
        ));
    }
    let result =
        parse(&stdout).map_err(|err| anyhow!("pgbench: {err}: {}", first_error(&stderr)))?;
    if result.transactions == 0 {
        return Err(failure(url, clients, "completed no transaction", &stderr));
    }
    Ok(result)
}

/// Feeds the script, gathers the output, and waits at most `limit` for the exit
/// (killing pgbench past it).
fn finish(mut child: Child, limit: Duration) -> Result<(std::process::ExitStatus, String, String)> {
    let gather = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        })
    };
    let stdout = gather(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = gather(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    if let Some(mut stdin) = child.stdin.take() {
        // pgbench reads the whole script before it connects; a write error means it
        // already failed, which its status and stderr say.
        let _ = stdin.write_all(world::PGBENCH_SCRIPT.as_bytes());
    }
    let give_up = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= give_up {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "pgbench did not finish within {} s: killed",
                limit.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let text = |h: std::thread::JoinHandle<String>| h.join().unwrap_or_default();
    Ok((status, text(stdout), text(stderr)))
}

/// A failed run as one line: the server's refusal of too many clients said as such,
/// with its `max_connections`; else pgbench's first error.
fn failure(url: &str, clients: u32, how: &str, stderr: &str) -> anyhow::Error {
    if stderr.contains("too many clients") {
        let limit = max_connections(url).map_or_else(String::new, |n| format!(" ({n})"));
        return anyhow!(
            "pgbench at {clients} clients: the server refused connections (too many \
             clients): {clients} are more than its max_connections{limit} leaves free"
        );
    }
    anyhow!("pgbench {how}: {}", first_error(stderr))
}

/// The server's `max_connections`, if it can be asked.
fn max_connections(url: &str) -> Option<String> {
    let mut client = postgres::Client::connect(url, postgres::NoTls).ok()?;
    let row = client.query_one("SHOW max_connections", &[]).ok()?;
    row.try_get(0).ok()
}

/// pgbench's first `error:` line without its prefix, or its last line.
fn first_error(stderr: &str) -> String {
    let mut lines = stderr.lines().map(str::trim).filter(|l| !l.is_empty());
    let error = lines
        .clone()
        .find_map(|l| l.strip_prefix("pgbench: error: "))
        .or_else(|| lines.next_back());
    error.unwrap_or("no message").to_string()
}

/// Reads pgbench's report (14 and later print one `tps =` line, without the time to
/// connect; 13 and earlier two, of which the `excluding connections` one is taken).
pub fn parse(stdout: &str) -> Result<PgbenchResult, String> {
    let field = |label: &str| {
        stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix(label))
            .map(|rest| rest.trim_start_matches([':', '=', ' ']))
    };
    let first_number = |label: &str| -> Result<f64, String> {
        let value = field(label).ok_or_else(|| format!("no `{label}` in its output"))?;
        let number = value.split([' ', '/']).next().unwrap_or("");
        number
            .parse()
            .map_err(|_| format!("`{label}` is not a number: {value:?}"))
    };
    let tps_line = stdout
        .lines()
        .filter(|l| l.starts_with("tps = "))
        .find(|l| !l.contains("including"))
        .ok_or("no `tps =` in its output")?;
    let tps = first_number_of(tps_line.trim_start_matches("tps = "))
        .ok_or_else(|| format!("`tps` is not a number: {tps_line:?}"))?;
    Ok(PgbenchResult {
        clients: first_number("number of clients")? as u32,
        threads: first_number("number of threads")? as u32,
        duration_secs: first_number("duration")? as u64,
        transactions: first_number("number of transactions actually processed")? as u64,
        failed: first_number("number of failed transactions").map_or(0, |n| n as u64),
        tps,
        latency_avg_ms: first_number("latency average")?,
        connection_time_ms: first_number("initial connection time").ok(),
    })
}

fn first_number_of(text: &str) -> Option<f64> {
    text.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `pgbench -n -M prepared -c 4 -j 2 -T 2 -f -` with the lookup script, against a
    /// private cluster, as pgbench 15.18 (Debian 15.18-0+deb12u1) printed it.
    const PGBENCH_15: &str = "pgbench (15.18 (Debian 15.18-0+deb12u1))
transaction type: -
scaling factor: 1
query mode: prepared
number of clients: 4
number of threads: 2
maximum number of tries: 1
duration: 2 s
number of transactions actually processed: 100277
number of failed transactions: 0 (0.000%)
latency average = 0.079 ms
initial connection time = 30.189 ms
tps = 50860.335309 (without initial connection time)
";

    /// The same against a database without the table: the run aborts (exit status 2)
    /// after printing its header.
    const PGBENCH_15_ABORTED: &str = "pgbench (15.18 (Debian 15.18-0+deb12u1))
transaction type: -
scaling factor: 1
query mode: prepared
number of clients: 2
number of threads: 2
maximum number of tries: 1
duration: 1 s
number of transactions actually processed: 0
number of failed transactions: 0 (NaN%)
";

    /// The form of pgbench 13 and earlier: two tps lines, with and without the time to
    /// connect (as that version's documentation shows them), no count of failures, and
    /// under `-t` the transactions as `done/intended`.
    const PGBENCH_13: &str = "transaction type: -
scaling factor: 1
query mode: prepared
number of clients: 10
number of threads: 1
duration: 10 s
number of transactions actually processed: 10000/10000
latency average = 11.742 ms
tps = 85.184871 (including connections establishing)
tps = 85.296346 (excluding connections establishing)
";

    #[test]
    fn pgbench_15_output_is_read() {
        let result = parse(PGBENCH_15).unwrap();
        assert_eq!(
            result,
            PgbenchResult {
                clients: 4,
                threads: 2,
                duration_secs: 2,
                transactions: 100_277,
                failed: 0,
                tps: 50_860.335309,
                latency_avg_ms: 0.079,
                connection_time_ms: Some(30.189),
            }
        );
    }

    #[test]
    fn the_rate_without_connecting_is_taken_from_older_output() {
        let result = parse(PGBENCH_13).unwrap();
        assert_eq!(result.tps, 85.296346);
        assert_eq!(result.transactions, 10_000);
        assert_eq!(result.failed, 0);
        assert_eq!(result.connection_time_ms, None);
    }

    #[test]
    fn an_aborted_run_has_no_rate() {
        assert_eq!(
            parse(PGBENCH_15_ABORTED).unwrap_err(),
            "no `tps =` in its output"
        );
        assert!(parse("").is_err());
        let garbled = PGBENCH_15.replace("latency average = 0.079", "latency average = fast");
        assert!(parse(&garbled).unwrap_err().contains("latency average"));
    }

    #[test]
    fn the_first_error_line_is_the_message() {
        let stderr = "pgbench: error: connection to server on socket \"/tmp/x/.s.PGSQL.5432\" \
                      failed: FATAL:  sorry, too many clients already\n\
                      pgbench: error: could not create connection for client 2\n";
        assert!(first_error(stderr).starts_with("connection to server"));
        assert_eq!(first_error("odd\nlast words\n"), "last words");
        assert_eq!(first_error(""), "no message");
    }
}
