//! The `serve` command line (clap derive) and its translation into a [`ServeConfig`].

use std::ffi::OsStr;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::Args;

use super::ServeConfig;
use crate::conn::Offload;
use crate::model::{self, ModelInfo};
use crate::protocol::{Database, Handlers, Protocol};
use crate::sys::affinity::CpuList;

/// `iomodels serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The concurrency model (`iomodels list` shows them all).
    #[arg(value_parser = Offering::models(parse_model), hide_possible_values = true)]
    pub model: &'static ModelInfo,
    /// The protocol to speak.
    #[arg(long, default_value_t = Protocol::Echo, value_parser = proto_parser())]
    pub proto: Protocol,
    /// The address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:7777", value_parser = parse_addr)]
    pub addr: SocketAddr,
    /// Worker processes or threads, for models that have them (default: as `list` shows).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub workers: Option<u32>,
    /// The listen(2) backlog: how many finished handshakes the kernel queues before accept.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=65535))]
    pub backlog: u32,
    /// Set TCP_NODELAY on every connection (no Nagle delay for small writes).
    #[arg(long)]
    pub nodelay: bool,
    /// Set TCP_CORK around each batch of replies, so a reply leaves in full segments.
    #[arg(long)]
    pub cork: bool,
    /// Idle/header timeout in seconds: a connection that completes no request for this
    /// long is closed; 0 disables it [default: 10 for http, none for echo].
    #[arg(long, value_name = "SECONDS", value_parser = parse_timeout)]
    pub timeout: Option<Duration>,
    /// Run the server on these CPUs only (`1`, `1-3`, `0,2`), as taskset does; models
    /// that start a worker per CPU by default count these.
    #[arg(long, value_name = "CPUS", value_parser = CpuList::parse)]
    pub cpus: Option<CpuList>,
    /// CPU time `/cpu` burns per request (http), hashing: `100us`, `2ms`; more than 0,
    /// at most 1s. (Not `--cpus`, which pins the server.)
    #[arg(long, value_name = "DURATION", default_value = "100us", value_parser = parse_cpu_work)]
    pub cpu_work: Duration,
    /// How long `/wait` waits per request (http), as on a backend: `10ms`, `1s`; more
    /// than 0, at most 60s.
    #[arg(long, value_name = "DURATION", default_value = "10ms", value_parser = parse_wait)]
    pub wait: Duration,
    /// Where event loops carry out `/cpu`, `/wait` and the queries of `/db` and
    /// `/queries`: 0 = in the loop (a wait or a query stalls it), N = a pool of N threads
    /// per loop (a database connection each); for async models, N = CPU work on
    /// spawn_blocking (at most N threads). Default: a loop's own timer for waits and its
    /// own pipelined database connection for queries, CPU inline. Models that serve a
    /// connection per thread, process or coroutine refuse it.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(0..=4096))]
    pub offload: Option<u16>,
    /// The PostgreSQL database `/db` and `/queries` read TechEmpower's `World` table
    /// from (http): `postgres://user@host:port/db`, or `host=/run/dir dbname=x`;
    /// `iomodels db start` makes one and prints its URL. Without it those paths are
    /// answered 503.
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
    /// Connections to --database the server keeps in a pool, for the models that pool
    /// them: async and async-mt (tokio-postgres, deadpool; default 2 per CPU),
    /// coroutines (a thread with a connection each; default 16). The other models hold
    /// theirs per thread, process or loop, and refuse it.
    #[arg(long, value_name = "N", requires = "database",
          value_parser = clap::value_parser!(u16).range(1..=4096))]
    pub db_pool: Option<u16>,
    /// Log every connection on stderr.
    #[arg(short, long)]
    pub verbose: bool,
    /// Stop (as on SIGTERM) when the process PID, this server's parent, exits: how
    /// `compare` makes sure no server outlives it.
    #[arg(long, hide = true, value_name = "PID")]
    pub parent: Option<u32>,
    /// Fault injection for tests: the kernel kills the server (SIGALRM) after SECONDS.
    #[arg(long, hide = true, value_name = "SECONDS", value_parser = parse_timeout)]
    pub crash_after: Option<Duration>,
}

impl ServeArgs {
    /// The validated server configuration these flags describe.
    pub fn config(&self) -> ServeConfig {
        let protocol = self.proto;
        let timeout = match self.timeout {
            Some(t) if t.is_zero() => None,
            Some(t) => Some(t),
            None => protocol.default_timeout(),
        };
        ServeConfig {
            model: self.model,
            protocol,
            addr: self.addr,
            workers: self
                .workers
                .map_or_else(|| self.model.default_workers(), |n| n as usize),
            backlog: self.backlog,
            nodelay: self.nodelay,
            cork: self.cork,
            timeout,
            crash_after: self.crash_after,
            handlers: Handlers {
                cpu: self.cpu_work,
                wait: self.wait,
                database: self.database.clone().map(|url| Database {
                    // Once per process, for its life, as the handlers themselves.
                    url: url.leak(),
                    pool: self.db_pool,
                }),
            },
            offload: self.offload.map_or(Offload::Unset, Offload::from_count),
        }
    }
}

/// The value parser of `--proto`, shared by every command that takes it: the names of
/// [`Protocol::ALL`], each with its help, parsed with [`Protocol`]'s `FromStr`.
pub fn proto_parser() -> impl TypedValueParser<Value = Protocol> {
    let values = Protocol::ALL.map(|p| PossibleValue::new(p.name()).help(p.about()));
    PossibleValuesParser::new(values).try_map(|name| name.parse::<Protocol>())
}

/// A value parser that offers names (to shell completions, as clap's possible values)
/// and parses with `P`, which takes more than those names or says more than clap would
/// of a wrong one. A flag that takes it hides the names from its help with
/// `hide_possible_values` when `iomodels list` shows them better.
#[derive(Clone)]
pub struct Offering<P> {
    parse: P,
    names: fn() -> Vec<&'static str>,
}

impl<P> Offering<P> {
    /// Offers every model's name.
    pub fn models(parse: P) -> Self {
        Offering {
            parse,
            names: model_names,
        }
    }

    /// Offers `all` and every model's name: a model list's first entry.
    pub fn model_list(parse: P) -> Self {
        Offering {
            parse,
            names: || [vec!["all"], model_names()].concat(),
        }
    }
}

fn model_names() -> Vec<&'static str> {
    model::MODELS.iter().map(|m| m.name).collect()
}

impl<P: TypedValueParser> TypedValueParser for Offering<P> {
    type Value = P::Value;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<Self::Value, clap::Error> {
        self.parse.parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new((self.names)().into_iter().map(PossibleValue::new)))
    }
}

fn parse_model(name: &str) -> Result<&'static ModelInfo, String> {
    model::find(name).ok_or_else(|| {
        format!(
            "no model named '{name}' (models: {})",
            model_names().join(", ")
        )
    })
}

fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    text.to_socket_addrs()
        .map_err(|e| format!("not an address: {e}"))?
        .next()
        .ok_or_else(|| format!("'{text}' resolves to no address"))
}

fn parse_timeout(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("'{text}' is not a number of seconds"))?;
    if !(0.0..=86_400.0).contains(&seconds) {
        return Err("must be between 0 and 86400 seconds".into());
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// The value parser of `--cpu-work` (`serve`, `compare`): a duration within
/// [`Handlers::checked_cpu`]'s bounds.
pub fn parse_cpu_work(text: &str) -> Result<Duration, String> {
    parse_amount(text).and_then(Handlers::checked_cpu)
}

/// The value parser of `--wait` (`serve`, `compare`): a duration within
/// [`Handlers::checked_wait`]'s bounds.
pub fn parse_wait(text: &str) -> Result<Duration, String> {
    parse_amount(text).and_then(Handlers::checked_wait)
}

/// A duration as `bench` takes them, zero included: the amounts' own bounds, tighter
/// than `bench`'s week, say why zero is refused.
fn parse_amount(text: &str) -> Result<Duration, String> {
    crate::units::parse_duration(text).or_else(|err| {
        let number = text.trim().trim_end_matches(|c: char| c.is_alphabetic());
        if number.parse::<f64>() == Ok(0.0) {
            Ok(Duration::ZERO)
        } else {
            Err(err)
        }
    })
}
