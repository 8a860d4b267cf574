//! Requests that need work before their reply: what the work is ([`Work`]), and how
//! much of it the server does for each kind ([`Handlers`], `serve --cpu-work` and
//! `serve --wait`).
//!
//! The session only names the work; carrying it out is the connection layer's (each
//! family its own way, through [`crate::work`]), and the amounts are the server's
//! settings, never the client's to choose.

use std::time::Duration;

/// What a request needs done before its reply can be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// Burn this much CPU time of the thread that carries it out (real work, hashing).
    Cpu(Duration),
    /// Wait this long, as on a backend (a database, another service) that answers
    /// after that time.
    Wait(Duration),
}

/// How much work each kind of request costs: the server's settings, fixed for its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handlers {
    /// CPU burnt for `/cpu`.
    pub cpu: Duration,
    /// Time waited for `/wait`.
    pub wait: Duration,
}

impl Handlers {
    /// The amounts when `serve` is given none: 100 µs of CPU, a 10 ms wait.
    pub const DEFAULT: Handlers = Handlers {
        cpu: Duration::from_micros(100),
        wait: Duration::from_millis(10),
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
        let Handlers { cpu, wait } = Handlers::default();
        assert_eq!(Handlers::checked_cpu(cpu), Ok(Duration::from_micros(100)));
        assert_eq!(Handlers::checked_wait(wait), Ok(Duration::from_millis(10)));
    }
}
