//! The way back from a configuration to the command line: the arguments of `iomodels`
//! that [`super::args`] parses into the same [`BenchConfig`]. It is how a run spread
//! over processes starts each of its parts ([`super::spawn`]): a part's configuration is
//! computed ([`super::fanout`]), then written out here, in one place for every option.
//!
//! Every configuration struct is destructured whole (no `..`), so an option added to
//! one does not compile until it is written here too; the tests parse the result back
//! and compare it with the configuration, field by field.

use std::ffi::OsString;
use std::time::Duration;

use super::config::{
    BenchConfig, EchoConfig, HoldConfig, HttpConfig, Ramp, Stopping, WorkloadConfig,
};

/// The arguments (after the program's name) that give `config`:
/// `bench WORKLOAD TARGET --flag value ...`.
pub fn command_line(config: &BenchConfig) -> Vec<OsString> {
    let BenchConfig {
        workload,
        target,
        threads,
        timeout,
        json,
        server_pid,
        sources,
        first_connection,
        part_of,
        start_at,
        processes,
    } = config;
    let mut line = Line(vec![
        "bench".into(),
        workload.name().into(),
        target.display.clone().into(),
    ]);
    match workload {
        WorkloadConfig::Echo(echo) => line.echo(echo),
        WorkloadConfig::Http(http) => line.http(http),
        WorkloadConfig::Hold(hold) => line.hold(hold),
    }
    line.flag("--threads", threads);
    line.flag("--timeout", duration(*timeout));
    if let Some(path) = json {
        line.0
            .extend(["--json".into(), path.clone().into_os_string()]);
    }
    line.some("--server-pid", server_pid);
    if !sources.is_empty() {
        let list: Vec<String> = sources.iter().map(ToString::to_string).collect();
        line.flag("--source", list.join(","));
    }
    line.flag("--first-connection", first_connection);
    line.some("--part-of", part_of);
    // Display gives the shortest text that parses back to the same f64.
    line.some("--start-at", start_at);
    line.some("--processes", processes);
    line.0
}

/// A duration in the largest unit that gives it exactly, which
/// [`crate::units::parse_duration`] reads back to the nanosecond.
fn duration(d: Duration) -> String {
    let ns = d.as_nanos();
    match [(1_000_000_000, "s"), (1_000_000, "ms"), (1_000, "us")]
        .into_iter()
        .find(|&(unit, _)| ns % unit == 0)
    {
        Some((unit, name)) => format!("{}{name}", ns / unit),
        None => format!("{ns}ns"),
    }
}

/// A command line being written.
struct Line(Vec<OsString>);

impl Line {
    fn flag(&mut self, name: &str, value: impl ToString) {
        self.0.extend([name.into(), value.to_string().into()]);
    }

    fn some(&mut self, name: &str, value: &Option<impl ToString>) {
        if let Some(value) = value {
            self.flag(name, value.to_string());
        }
    }

    fn switch(&mut self, name: &str, on: bool) {
        if on {
            self.0.push(name.into());
        }
    }

    fn echo(&mut self, echo: &EchoConfig) {
        let EchoConfig {
            workers,
            rounds,
            messages,
            size,
            duration: length,
        } = echo;
        self.flag("--workers", workers);
        self.flag("--rounds", rounds);
        self.flag("--messages", messages);
        self.flag("--size", size);
        self.some("--duration", &length.map(duration));
    }

    fn http(&mut self, http: &HttpConfig) {
        let HttpConfig {
            connections,
            stopping,
            close,
            pipeline,
            head,
            rate,
        } = http;
        self.flag("--connections", connections);
        match stopping {
            Stopping::Requests(n) => self.flag("--requests", n),
            Stopping::Duration(d) => self.flag("--duration", duration(*d)),
        }
        self.switch("--close", *close);
        self.flag("--pipeline", pipeline);
        self.flag("--method", if *head { "HEAD" } else { "GET" });
        self.some("--rate", rate);
    }

    fn hold(&mut self, hold: &HoldConfig) {
        let HoldConfig {
            proto,
            connections,
            ramp: Ramp { count, every },
            interval: (low, high),
            derive_interval,
            duration: length,
        } = hold;
        self.flag("--proto", proto.name());
        self.flag("--connections", connections);
        self.flag("--ramp", format!("{count}/{}", duration(*every)));
        if !derive_interval {
            self.flag(
                "--interval",
                format!("{}..{}", duration(*low), duration(*high)),
            );
        }
        self.flag("--duration", duration(*length));
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use clap::Parser;

    use super::*;
    use crate::bench::args::BenchArgs;
    use crate::bench::start::unix_now_s;
    use crate::bench::target::Target;
    use crate::protocol::Protocol;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    #[derive(clap::Subcommand)]
    enum Command {
        Bench(BenchArgs),
    }

    fn parse(line: Vec<OsString>) -> BenchConfig {
        let argv = std::iter::once(OsString::from("iomodels")).chain(line);
        let Command::Bench(args) = Cli::try_parse_from(argv).unwrap().command;
        args.config().unwrap()
    }

    /// What `bench WORKLOAD TARGET` alone gives.
    fn defaults(workload: &str, target: &str) -> BenchConfig {
        parse(vec!["bench".into(), workload.into(), target.into()])
    }

    /// `BenchConfig`'s fields with every setting other than the defaults.
    fn everything(workload: WorkloadConfig, target: &str) -> BenchConfig {
        BenchConfig {
            workload,
            target: Target::parse(target).unwrap(),
            threads: 3,
            timeout: Duration::from_micros(2_500_001),
            json: Some(PathBuf::from("/dev/null/run.json")),
            server_pid: Some(4242),
            sources: vec!["127.0.0.2".parse().unwrap(), "127.0.0.3".parse().unwrap()],
            first_connection: 17,
            part_of: Some(std::process::id()),
            start_at: Some(unix_now_s() + 600.123_456_7),
            processes: Some(2),
        }
    }

    /// `(name, whether a and b differ)` for every field of a struct of type `$ty`,
    /// destructured whole: a field that is not listed (or skipped) does not compile.
    macro_rules! fields {
        (
            $ty:ident, $a:expr, $b:expr, $prefix:literal:
            $($field:ident),* $(; skip $($skip:ident),*)?
        ) => {{
            let $ty { $($field,)* $($($skip: _,)*)? } = $a;
            vec![$((concat!($prefix, stringify!($field)), *$field != $b.$field)),*]
        }};
    }

    /// The names of the fields in which `a` and `b` differ, and of every field.
    fn differing(a: &BenchConfig, b: &BenchConfig) -> (Vec<&'static str>, Vec<&'static str>) {
        let mut fields = fields!(BenchConfig, a, b, "": threads, timeout, json, server_pid,
            sources, first_connection, part_of, start_at, processes; skip workload, target);
        fields.extend(match (&a.workload, &b.workload) {
            (WorkloadConfig::Echo(a), WorkloadConfig::Echo(b)) => {
                fields!(EchoConfig, a, b, "echo.": workers, rounds, messages, size, duration)
            }
            (WorkloadConfig::Http(a), WorkloadConfig::Http(b)) => {
                fields!(HttpConfig, a, b, "http.":
                    connections, stopping, close, pipeline, head, rate)
            }
            (WorkloadConfig::Hold(a), WorkloadConfig::Hold(b)) => {
                fields!(HoldConfig, a, b, "hold.":
                    proto, connections, ramp, interval, derive_interval, duration)
            }
            _ => panic!("compare configurations of one workload"),
        });
        let differ = fields.iter().filter(|f| f.1).map(|f| f.0).collect();
        (differ, fields.into_iter().map(|f| f.0).collect())
    }

    /// Configurations that, together, set every option of every workload to something
    /// other than its default (some options exclude others: `--close` and
    /// `--pipeline`, `--requests` and `--duration`).
    fn samples() -> Vec<BenchConfig> {
        let echo = WorkloadConfig::Echo(EchoConfig {
            workers: 7,
            rounds: 3,
            messages: 9,
            size: 1000,
            duration: Some(Duration::from_millis(1500)),
        });
        let http = |close, pipeline, stopping| {
            WorkloadConfig::Http(HttpConfig {
                connections: 12,
                stopping,
                close,
                pipeline,
                head: true,
                rate: Some(1_234.567_8),
            })
        };
        let hold = WorkloadConfig::Hold(HoldConfig {
            proto: Protocol::Echo,
            connections: 300,
            ramp: Ramp {
                count: 11,
                every: Duration::from_micros(1500),
            },
            interval: (
                Duration::from_millis(700),
                Duration::from_nanos(2_000_000_001),
            ),
            derive_interval: false,
            duration: Duration::from_secs(90),
        });
        vec![
            everything(echo, "127.0.0.1:7"),
            everything(
                http(true, 1, Stopping::Requests(5000)),
                "http://127.0.0.1:8080/x",
            ),
            everything(
                http(false, 4, Stopping::Duration(Duration::from_millis(2500))),
                "http://127.0.0.1:8080/",
            ),
            everything(hold, "127.0.0.1:9"),
        ]
    }

    #[test]
    fn every_option_survives_the_command_line() {
        for config in samples() {
            let line = command_line(&config);
            assert_eq!(parse(line.clone()), config, "{line:?}");
        }
    }

    #[test]
    fn the_samples_set_every_option() {
        let (mut all, mut set) = (Vec::new(), Vec::new());
        for config in samples() {
            let target = config.target.display.clone();
            let (differ, fields) = differing(&config, &defaults(config.workload.name(), &target));
            set.extend(differ);
            all.extend(fields);
        }
        all.sort_unstable();
        all.dedup();
        all.retain(|field| !set.contains(field));
        assert_eq!(all, Vec::<&str>::new(), "options left at their defaults");
    }

    #[test]
    fn durations_are_written_in_the_largest_exact_unit() {
        assert_eq!(duration(Duration::from_secs(30)), "30s");
        assert_eq!(duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(duration(Duration::from_micros(100)), "100us");
        assert_eq!(
            duration(Duration::from_nanos(2_000_000_001)),
            "2000000001ns"
        );
    }
}
