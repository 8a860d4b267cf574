//! How a run is spread: over how many processes of bench, from which source addresses,
//! and what each part is given. A hold whose connections exceed what one process may
//! hold (its descriptor limit) is spread over as many processes as that needs; any
//! workload is spread over `--processes N`. Connections that exceed one source
//! address's ports towards the target are spread over several source addresses
//! (127.0.0.2, 127.0.0.3, ... for a loopback target).
//!
//! Each part is an ordinary run of its workload with its share of the connections (and
//! of the ramp, the requests, the rate and the threads); [`Fanout::part`] computes its
//! configuration, and [`super::argv`] writes it as a command line when the part runs
//! in a process of its own.

use std::net::{IpAddr, Ipv4Addr};

use anyhow::Result;

use super::config::{BenchConfig, HoldConfig, HttpConfig, Ramp, Stopping, WorkloadConfig};
use super::engine::share;
use crate::error::usage;

/// How many of a source address's ephemeral ports a fanout uses. connect(2) looks for a
/// free port by walking the range from a random offset, even ports first: once most
/// even ports are taken, every connect walks thousands of taken ones, and the ramp's
/// system time grows with the square of the connections. A quarter of the range keeps
/// the walk short, and leaves ports for connections that reopen while their old ports
/// wait in TIME_WAIT.
pub const PORTS_USED: f64 = 0.25;

/// How the connections are spread: over how many processes, from which addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fanout {
    pub processes: usize,
    pub sources: Vec<IpAddr>,
}

/// The fanout of `config`'s connections when each process may hold `fits` and each
/// source address has `ports` ports: `--processes`, or as many processes as the
/// descriptors need (hold) or one (the others); the sources given, or, for a loopback
/// target that needs more than one address's share, 127.0.0.2 onwards.
pub fn plan(config: &BenchConfig, fits: u64, ports: u64) -> Result<Fanout> {
    let connections = config.workload.connections() as u64;
    let needed = connections.div_ceil(fits.max(1)) as usize;
    let automatic = if config.workload.is_hold() { needed } else { 1 };
    let processes = config.processes.unwrap_or(automatic);
    if processes < needed {
        return Err(usage(format!(
            "{connections} connections need more file descriptors than {} may hold \
             (at most {fits} a process here; see ulimit -n); give --processes {needed}",
            match processes {
                1 => "one process".to_string(),
                n => format!("{n} processes"),
            }
        )));
    }
    check_divisible(config, processes)?;
    let per_source = ((ports as f64 * PORTS_USED) as u64).max(1);
    let needed = connections.div_ceil(per_source) as usize;
    let loopback = config.target.addr.ip().is_loopback() && config.target.addr.is_ipv4();
    let sources = if !config.sources.is_empty() || needed <= 1 {
        config.sources.clone()
    } else if loopback {
        loopback_sources(needed)
    } else {
        Vec::new()
    };
    if processes > 1 && needed > 1 && sources.len() < needed {
        return Err(usage(format!(
            "{connections} connections need {needed} source addresses ({per_source} ports each \
             towards one destination here); give them with --source IP,IP,..."
        )));
    }
    Ok(Fanout { processes, sources })
}

/// Every part must get at least one connection, one request and a rate it can be given.
fn check_divisible(config: &BenchConfig, processes: usize) -> Result<()> {
    let connections = config.workload.connections();
    if processes > connections {
        return Err(usage(format!(
            "--processes {processes}: more processes than the {connections} connections"
        )));
    }
    if let WorkloadConfig::Http(http) = &config.workload {
        if matches!(http.stopping, Stopping::Requests(n) if n < processes as u64) {
            return Err(usage(format!(
                "--processes {processes}: more processes than --requests"
            )));
        }
        if http
            .rate
            .is_some_and(|rate| rate / (processes as f64) < 1.0)
        {
            return Err(usage(format!(
                "--processes {processes}: a --rate below one request per second a process"
            )));
        }
    }
    Ok(())
}

/// 127.0.0.2, 127.0.0.3, ...: loopback addresses every Linux machine answers on.
fn loopback_sources(count: usize) -> Vec<IpAddr> {
    (0..count as u32)
        .map(|i| IpAddr::V4(Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 0, 0, 2)) + i)))
        .collect()
}

impl Fanout {
    /// The configuration of part `index`: `config`'s settings with its share of the
    /// connections (and of the ramp, the requests, the rate and the threads), the
    /// fanout's sources, and nothing of what the whole run does around its parts (the
    /// start time, the server's sampling, the JSON file, the fanout itself).
    pub fn part(&self, config: &BenchConfig, index: usize) -> BenchConfig {
        let n = self.processes;
        let (connections, first) = share(config.workload.connections(), n, index);
        let workload = match &config.workload {
            WorkloadConfig::Echo(echo) => WorkloadConfig::Echo(super::config::EchoConfig {
                workers: connections,
                ..echo.clone()
            }),
            WorkloadConfig::Http(http) => WorkloadConfig::Http(HttpConfig {
                connections,
                stopping: match http.stopping {
                    Stopping::Requests(total) => {
                        Stopping::Requests(share(total as usize, n, index).0 as u64)
                    }
                    duration => duration,
                },
                rate: http.rate.map(|rate| rate / n as f64),
                ..http.clone()
            }),
            WorkloadConfig::Hold(hold) => WorkloadConfig::Hold(HoldConfig {
                connections,
                ramp: Ramp {
                    count: hold.ramp.count.div_ceil(n),
                    ..hold.ramp
                },
                ..hold.clone()
            }),
        };
        BenchConfig {
            workload,
            target: config.target.clone(),
            threads: config.threads.div_ceil(n).min(connections),
            timeout: config.timeout,
            json: None,
            server_pid: None,
            sources: self.sources.clone(),
            first_connection: config.first_connection + first,
            part_of: None,
            start_at: None,
            processes: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::args::BenchArgs;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        bench: BenchArgs,
    }

    /// The configuration `iomodels bench ARGS` gives (ARGS split at spaces).
    fn config(args: &str) -> BenchConfig {
        let argv = std::iter::once("bench").chain(args.split_whitespace());
        Cli::parse_from(argv).bench.config().unwrap()
    }

    #[test]
    fn one_process_while_the_connections_fit() {
        let c = config("hold 127.0.0.1:80 --connections 19000");
        let p = plan(&c, 19_936, 28_232).unwrap();
        assert_eq!(p.processes, 1);
        assert_eq!(p.sources.len(), 3, "7,058 ports of each address at most");
        let c = config("hold 127.0.0.1:80 --connections 5000");
        assert_eq!(
            plan(&c, 19_936, 28_232).unwrap().sources,
            Vec::<IpAddr>::new()
        );
    }

    #[test]
    fn c100k_spreads_over_processes_and_loopback_sources() {
        let c = config("hold 127.0.0.1:80 --connections 100000");
        let p = plan(&c, 19_936, 28_232).unwrap();
        assert_eq!(p.processes, 6);
        assert_eq!(p.sources.len(), 15);
        assert_eq!(p.sources[0].to_string(), "127.0.0.2");
        assert_eq!(p.sources[14].to_string(), "127.0.0.16");
    }

    #[test]
    fn too_few_sources_processes_or_a_remote_target_is_a_usage_error() {
        let c = config("hold 127.0.0.1:80 --connections 100000 --source 127.0.0.9");
        let err = plan(&c, 19_936, 28_232).unwrap_err().to_string();
        assert!(err.contains("need 15 source addresses"), "{err}");
        let c = config("hold 198.18.0.2:80 --connections 100000");
        assert!(plan(&c, 19_936, 28_232).is_err());
        let c = config("http http://127.0.0.1:80/ --connections 30000");
        let err = plan(&c, 19_936, 28_232).unwrap_err().to_string();
        assert!(err.contains("give --processes 2"), "{err}");
        let c = config("hold 127.0.0.1:80 --connections 30000");
        let c = BenchConfig {
            processes: Some(1),
            ..c
        };
        assert!(plan(&c, 19_936, 28_232).is_err());
        let c = config("http http://127.0.0.1:80/ --processes 3");
        let c = BenchConfig {
            workload: WorkloadConfig::Http(HttpConfig {
                stopping: Stopping::Requests(2),
                ..http(&c).clone()
            }),
            ..c
        };
        let err = plan(&c, 19_936, 28_232).unwrap_err().to_string();
        assert!(err.contains("more processes than --requests"), "{err}");
    }

    fn http(c: &BenchConfig) -> &HttpConfig {
        match &c.workload {
            WorkloadConfig::Http(http) => http,
            _ => unreachable!(),
        }
    }

    #[test]
    fn hold_parts_share_the_connections_ramp_and_threads() {
        let c = config("hold 127.0.0.1:80 --connections 25001 --ramp 10/10ms --threads 3");
        let p = plan(&c, 19_936, 28_232).unwrap();
        assert_eq!(p.processes, 2);
        let parts: Vec<BenchConfig> = (0..2).map(|i| p.part(&c, i)).collect();
        assert_eq!(parts[0].first_connection, 0);
        assert_eq!(parts[1].first_connection, 12_501);
        let WorkloadConfig::Hold(hold) = &parts[1].workload else {
            unreachable!()
        };
        assert_eq!((hold.connections, hold.ramp.count), (12_500, 5));
        assert!(parts.iter().all(|part| part.threads == 2));
    }

    #[test]
    fn http_parts_share_the_requests_and_the_rate() {
        let c = config(
            "http http://127.0.0.1:80/ --connections 5 --requests 1001 --rate 300 --processes 2",
        );
        let p = plan(&c, 19_936, 28_232).unwrap();
        assert_eq!(p.processes, 2);
        let parts: Vec<BenchConfig> = (0..2).map(|i| p.part(&c, i)).collect();
        let requests: Vec<_> = parts.iter().map(|c| http(c).stopping).collect();
        assert_eq!(requests, [Stopping::Requests(501), Stopping::Requests(500)]);
        assert_eq!(http(&parts[0]).connections + http(&parts[1]).connections, 5);
        assert_eq!(http(&parts[0]).rate, Some(150.0));
    }

    #[test]
    fn one_part_is_the_whole_run() {
        let c = config("echo 127.0.0.1:80 --workers 40 --threads 4");
        let p = plan(&c, 19_936, 28_232).unwrap();
        assert_eq!(p.part(&c, 0), c);
    }
}
