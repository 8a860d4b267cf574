//! TechEmpower's `World` table: its SQL, the row lookup every test makes, and the
//! database made and filled with it.
//!
//! The table is TechEmpower's own (`toolset/databases/postgres/create-postgres.sql` in
//! TechEmpower/FrameworkBenchmarks): `World (id integer, randomNumber integer NOT NULL
//! default 0)`, `id` the primary key, 10,000 rows whose `randomNumber` is random in
//! 1..=10000. The names are not quoted, so PostgreSQL folds them to `world` and
//! `randomnumber`, and a query may spell them either way.

use anyhow::{ensure, Context, Result};
use postgres::{Client, NoTls};

/// The database the table lives in (TechEmpower's name).
pub const DATABASE: &str = "hello_world";

/// How many rows the table holds; ids run from 1 to this.
pub const ROWS: i32 = 10_000;

/// The table, as TechEmpower creates it.
pub const CREATE_TABLE: &str = "CREATE TABLE World (\n  \
    id integer NOT NULL,\n  \
    randomNumber integer NOT NULL default 0,\n  \
    PRIMARY KEY (id)\n)";

/// Its rows, as TechEmpower fills them: ids 1..=10000, a random number in 1..=10000
/// each (`least` guards the one-in-2^53 case where `random()` rounds up to 1).
pub const FILL: &str = "INSERT INTO World (id, randomNumber) \
    SELECT x.id, least(floor(random() * 10000 + 1), 10000) \
    FROM generate_series(1, 10000) AS x(id)";

/// The lookup of one row by its primary key, `$1` the id: what `/db` asks for once,
/// `/queries` N times, and `pgbench` ([`PGBENCH_SCRIPT`]) at every transaction.
pub const SELECT_ROW: &str = "SELECT id, randomNumber FROM World WHERE id = $1";

/// [`SELECT_ROW`] as a `pgbench` script: a random id in 1..=10000 per transaction.
pub const PGBENCH_SCRIPT: &str =
    "\\set id random(1, 10000)\nSELECT id, randomNumber FROM World WHERE id = :id;\n";

/// Creates [`DATABASE`] through `admin_url` (a connection to the `postgres` database),
/// then the table in it through `url`, fills it, and runs `VACUUM ANALYZE` so the first
/// lookups find a visibility map and statistics, as a long-running server's would.
pub fn create(admin_url: &str, url: &str) -> Result<()> {
    let mut admin = Client::connect(admin_url, NoTls).context("connecting to make the database")?;
    admin
        .batch_execute(&format!("CREATE DATABASE {DATABASE}"))
        .context("CREATE DATABASE")?;
    drop(admin);
    let mut client = Client::connect(url, NoTls).context("connecting to the new database")?;
    client
        .batch_execute(&format!("BEGIN; {CREATE_TABLE}; {FILL}; COMMIT"))
        .context("creating and filling World")?;
    // VACUUM refuses to run inside a transaction, so on its own.
    client
        .batch_execute("VACUUM ANALYZE World")
        .context("VACUUM ANALYZE World")?;
    check(&mut client)
}

/// The table holds ids 1..=10000, each with a number in 1..=10000.
pub fn check(client: &mut Client) -> Result<()> {
    let row = client.query_one(
        "SELECT count(*)::int, min(id), max(id), min(randomNumber), max(randomNumber) FROM World",
        &[],
    )?;
    let (count, ids, numbers): (i32, (i32, i32), (i32, i32)) = (
        row.get(0),
        (row.get(1), row.get(2)),
        (row.get(3), row.get(4)),
    );
    ensure!(
        count == ROWS && ids == (1, ROWS) && numbers.0 >= 1 && numbers.1 <= ROWS,
        "World holds {count} rows, ids {ids:?}, numbers {numbers:?}: not TechEmpower's table"
    );
    Ok(())
}
