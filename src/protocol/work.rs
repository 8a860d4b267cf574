//! Requests that need work before their reply: what the work is ([`Work`]), how much
//! of it the server does for each kind ([`Handlers`], `serve --cpu-work`, `serve
//! --wait`, `serve --database` and `--db-pool`), and what the work came back with
//! ([`Outcome`]).
//!
//! The session only names the work; carrying it out is the connection layer's (each
//! family its own way, through [`crate::work`] and [`crate::db`]), and the amounts are
//! the server's settings, never the client's to choose (but for how many rows
//! `/queries` reads, which TechEmpower bounds to 1..=[`Query::MAX_ROWS`]).

use std::time::Duration;

/// What a request needs done before its reply can be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// Burn this much CPU time of the thread that carries it out (real work, hashing).
    Cpu(Duration),
    /// Wait this long, as on a backend (a database, another service) that answers
    /// after that time.
    Wait(Duration),
    /// Read rows of TechEmpower's `World` table from the database at this address
    /// (`serve --database`): the work comes back as [`Outcome::Rows`] or
    /// [`Outcome::Failed`].
    Db(Query, &'static str),
}

/// What `/db` and `/queries` read: TechEmpower's single-query and multiple-query tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Query {
    /// `/db`: one random row, answered as a JSON object.
    One,
    /// `/queries?queries=N`: N random rows (1 to [`Query::MAX_ROWS`]), each its own
    /// query, answered as a JSON array (also when N is 1).
    Many(u16),
}

impl Query {
    /// The most rows `/queries` reads (TechEmpower's bound).
    pub const MAX_ROWS: u16 = 500;

    /// `/queries`' count from its `queries` parameter, TechEmpower's way: missing, not
    /// an integer, or less than 1 is 1; more than 500 is 500.
    pub fn many(param: Option<&str>) -> Query {
        let n = param.and_then(|v| v.parse::<i64>().ok()).unwrap_or(1);
        Query::Many(n.clamp(1, i64::from(Self::MAX_ROWS)) as u16)
    }

    /// How many rows it reads.
    pub fn rows(self) -> usize {
        match self {
            Query::One => 1,
            Query::Many(n) => usize::from(n),
        }
    }
}

/// One row of TechEmpower's `World` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct World {
    pub id: i32,
    pub random_number: i32,
}

/// What carrying out a request's work came back with, for its reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A burn or a wait: done, nothing to show.
    Done,
    /// The rows a [`Work::Db`] read, in the order asked.
    Rows(Vec<World>),
    /// The database could not answer: the reply is `503` with this reason (one line:
    /// what a client sees, such as PostgreSQL's "sorry, too many clients already").
    Failed(String),
}

/// How much work each kind of request costs: the server's settings, fixed for its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handlers {
    /// CPU burnt for `/cpu`.
    pub cpu: Duration,
    /// Time waited for `/wait`.
    pub wait: Duration,
    /// The database `/db` and `/queries` read from (`serve --database`); without one
    /// they are answered `503` at once.
    pub database: Option<Database>,
}

/// Where `/db` and `/queries` read from, and how many connections a server that pools
/// them keeps to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Database {
    /// A `postgres://` URL or key=value string (`serve --database`).
    pub url: &'static str,
    /// The connections of the server's pool (`serve --db-pool`), for the models that
    /// pool them; `None`: the model's own default.
    pub pool: Option<u16>,
}

impl Handlers {
    /// The amounts when `serve` is given none: 100 µs of CPU, a 10 ms wait.
    pub const DEFAULT: Handlers = Handlers {
        cpu: Duration::from_micros(100),
        wait: Duration::from_millis(10),
        database: None,
    };

    /// The most CPU one request may burn: a thread that serves others is held this
    /// long at most, and a stopping server waits at most this for a burn to end.
    pub const MAX_CPU: Duration = Duration::from_secs(1);

    /// The longest wait one request may make.
    pub const MAX_WAIT: Duration = Duration::from_secs(60);

    /// `amount` as a `/cpu` amount, if it is within bounds (more than 0, at most
    /// [`Self::MAX_CPU`]); the reason if not.
    pub fn checked_cpu(amount: Duration) -> Result<Duration, String> {
        within(amount, Self::MAX_CPU, "1s")
    }

    /// `amount` as a `/wait` amount, if it is within bounds (more than 0, at most
    /// [`Self::MAX_WAIT`]); the reason if not.
    pub fn checked_wait(amount: Duration) -> Result<Duration, String> {
        within(amount, Self::MAX_WAIT, "60s")
    }
}

impl Default for Handlers {
    fn default() -> Self {
        Handlers::DEFAULT
    }
}

fn within(amount: Duration, max: Duration, max_text: &str) -> Result<Duration, String> {
    if amount.is_zero() || amount > max {
        return Err(format!("must be more than 0 and at most {max_text}"));
    }
    Ok(amount)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_clamped_as_techempower_says() {
        for (param, n) in [
            (None, 1),
            (Some(""), 1),
            (Some("foo"), 1),
            (Some("0"), 1),
            (Some("-3"), 1),
            (Some("1"), 1),
            (Some("20"), 20),
            (Some("500"), 500),
            (Some("501"), 500),
            (Some("99999999999999999999"), 1),
        ] {
            assert_eq!(Query::many(param), Query::Many(n), "{param:?}");
        }
        assert_eq!((Query::One.rows(), Query::Many(7).rows()), (1, 7));
    }

    #[test]
    fn amounts_are_bounded_on_both_sides() {
        assert!(Handlers::checked_cpu(Duration::ZERO).is_err());
        assert!(Handlers::checked_wait(Duration::ZERO).is_err());
        assert_eq!(
            Handlers::checked_cpu(Handlers::MAX_CPU),
            Ok(Handlers::MAX_CPU)
        );
        assert_eq!(
            Handlers::checked_wait(Handlers::MAX_WAIT),
            Ok(Handlers::MAX_WAIT)
        );
        let over = Handlers::checked_cpu(Handlers::MAX_CPU + Duration::from_nanos(1));
        assert_eq!(over, Err("must be more than 0 and at most 1s".to_string()));
        assert!(Handlers::checked_wait(Handlers::MAX_WAIT + Duration::from_nanos(1)).is_err());
    }

    #[test]
    fn the_defaults_are_within_bounds() {
        let Handlers { cpu, wait, .. } = Handlers::default();
        assert_eq!(Handlers::checked_cpu(cpu), Ok(Duration::from_micros(100)));
        assert_eq!(Handlers::checked_wait(wait), Ok(Duration::from_millis(10)));
    }
}
