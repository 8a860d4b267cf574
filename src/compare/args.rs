//! `iomodels compare` flags, and their translation into a validated [`Plan`].

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::builder::{PossibleValue, PossibleValuesParser, StringValueParser, TypedValueParser};
use clap::{Args, ValueEnum};

use super::plan::{CompareWorkload, Placement, Plan, Stage, Subject};
use crate::error::usage;
use crate::hosts::session::HostsConfig;
use crate::hosts::Host;
use crate::model;
use crate::protocol::Handlers;
use crate::results::comparison::IDLE_QUESTION_MODELS;
use crate::results::db::{self, DEFAULT_QUERIES};
use crate::results::work;
use crate::serve::args::{parse_cpu_work, parse_wait, Offering};
use crate::units::parse_duration;

/// `iomodels compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Models to run: `all`, or a comma-separated list; `MODEL:FLAGS` passes flags to
    /// `serve` (e.g. `epoll:--backlog=1`, `epoll:--cork:--nodelay`). With `all`, cpu
    /// also runs async:--offload=2 (CPU work on spawn_blocking), wait
    /// epoll:--offload=0 (the wait inside the loop) and epoll:--offload=8 (a pool), and
    /// db and queries epoll:--offload=8 (a pool of threads with a connection each) and
    /// async:--db-pool=16 (a larger pool than its default).
    #[arg(long, default_value = "all", hide_possible_values = true,
          value_parser = Offering::model_list(StringValueParser::new()))]
    pub models: String,
    /// Workloads to run (repeat the flag or separate with commas)
    /// [default: echo,http,idle].
    #[arg(long = "workload", value_delimiter = ',', value_parser = workload_parser())]
    pub workloads: Vec<CompareWorkload>,
    /// Models the idle workload runs: a comma-separated list, or `all` for every
    /// subject [default: select,poll,epoll when --models is all, the seeds' question
    /// of how select and poll scale against epoll (a blocking model serves nobody once
    /// the idle connections outnumber its workers); else every subject].
    #[arg(long, hide_possible_values = true,
          value_parser = Offering::model_list(StringValueParser::new()))]
    pub idle_models: Option<String>,
    /// Concurrent clients for echo, http, http-close, cpu, wait, db and queries;
    /// connections held for hold (past one process's descriptors, bench spreads them
    /// over processes) [default: 10,100; cpu, wait, db and queries: 10,100,1000; hold:
    /// 1000,10000].
    #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub concurrency: Vec<u32>,
    /// CPU each request of the cpu workload burns on the server (`serve --cpu-work`,
    /// given to every server of cpu and wait).
    #[arg(long, value_name = "DURATION", default_value = "100us", value_parser = parse_cpu_work)]
    pub cpu_work: Duration,
    /// How long each request of the wait workload waits on the server, as on a backend
    /// (`serve --wait`, given to every server of cpu and wait).
    #[arg(long, value_name = "DURATION", default_value = "10ms", value_parser = parse_wait)]
    pub wait: Duration,
    /// Rows each request of the queries workload reads (`/queries?queries=N`, one
    /// query a row; TechEmpower allows 1 to 500).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_QUERIES,
          value_parser = clap::value_parser!(u16).range(1..=500))]
    pub queries: u16,
    /// The PostgreSQL server db and queries read (`postgres://USER@HOST:PORT/DB`,
    /// holding TechEmpower's World table, as `iomodels db start` makes one), given to
    /// every server of those workloads as `serve --database`; pgbench runs against it
    /// too [default: a private cluster compare starts in a temporary directory and
    /// stops at the end].
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
    /// Idle connections held alongside 50 active keep-alive clients, for `idle`.
    #[arg(long, value_delimiter = ',', default_value = "0,1000,10000", value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub idle: Vec<u32>,
    /// How long each measurement runs [default: 300ms].
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Rounds: each runs every model once at every level, in a rotated order, with the
    /// floor measured at its start; the report gives the rounds' median and spread, and
    /// the tiers they tell apart [default: 5; --quick: 1].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub repeat: Option<u32>,
    /// An external server measured the same way, as NAME=ADDR or NAME=ADDR@PID (its
    /// process is found from its listening socket when no PID is given). It must speak
    /// HTTP: echo workloads skip it.
    #[arg(long = "target", value_parser = parse_target)]
    pub targets: Vec<Subject>,
    /// Where the report goes.
    #[arg(long, default_value = "report")]
    pub out: PathBuf,
    /// A smaller run: one round (under a minute for every model); the tiers then part
    /// only models 1.25x apart.
    #[arg(long)]
    pub quick: bool,
    /// Let the servers and the load generator share every CPU, or put them on separate
    /// CPUs (the last for the load generator, the others for the server) on a machine
    /// with two or more. Sharing is the default: on a 2-vCPU machine it gave steadier
    /// figures (see docs/results.md).
    #[arg(long, value_enum, default_value_t = Pin::Shared)]
    pub pin: Pin,
    /// Run the servers on this host: `local`, or `ssh://[USER@]HOST[:PORT]` through the
    /// system's OpenSSH client (one multiplexed connection; the server is sampled, and
    /// the floor measured, there; the load comes from here).
    #[arg(long, value_name = "HOST", default_value = "local")]
    pub server_host: Host,
    /// Run the load on this host (`local` for this machine, or `ssh://...`); repeat
    /// for several: bench runs on each at once, from one start time, and their runs
    /// are merged [default: local].
    #[arg(long = "client-host", value_name = "HOST")]
    pub client_hosts: Vec<Host>,
    /// The address clients reach the servers at, for a server host with several
    /// [default: the server host's address, as ssh resolves its name (a `Host` alias
    /// in the ssh configuration becomes its HostName); with the servers here and the
    /// load elsewhere, the address this machine sends from toward the first client
    /// host].
    #[arg(long, value_name = "IP")]
    pub server_addr: Option<IpAddr>,
    /// ssh's configuration file for --server-host and --client-host (ssh -F FILE).
    #[arg(long, value_name = "FILE")]
    pub ssh_config: Option<PathBuf>,
    /// The iomodels executable on the server host [default: iomodels on its PATH]; it
    /// must be this one's version.
    #[arg(long, value_name = "PATH")]
    pub remote_bin: Option<String>,
    /// Copy this executable to the server host (through the same ssh connection) when
    /// the iomodels there is missing or of another version.
    #[arg(long)]
    pub ship: bool,
}

/// Where the servers and the load generator run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Pin {
    /// Separate CPUs, when the machine has two or more.
    Separate,
    /// Every CPU for both, as the scheduler likes.
    Shared,
}

impl CompareArgs {
    /// The validated plan these flags describe.
    pub fn plan(&self) -> Result<Plan> {
        let mut subjects = parse_models(&self.models)?;
        subjects.extend(self.targets.iter().cloned());
        let workloads = self.workloads();
        let variants = self.variants(&workloads, &mut subjects)?;
        // The report names each subject as `iomodels report` will read it back.
        for subject in &subjects {
            crate::results::validate::subject(subject.label()).map_err(usage)?;
        }
        // A stage runs the subjects given, and the variants of its own workload.
        let runs = |w: CompareWorkload| -> Vec<usize> {
            (0..subjects.len())
                .filter(|i| !variants.contains(i) || variants_of(w).contains(&subjects[*i].label()))
                .collect()
        };
        let given: Vec<usize> = self.concurrency.iter().map(|&c| c as usize).collect();
        let levels = |w: CompareWorkload| -> Vec<usize> {
            let mut levels = match w {
                CompareWorkload::Idle => self.idle.iter().map(|&k| k as usize).collect(),
                _ if !given.is_empty() => given.clone(),
                CompareWorkload::Hold => vec![1000, 10_000],
                CompareWorkload::Cpu
                | CompareWorkload::Wait
                | CompareWorkload::Db
                | CompareWorkload::Queries => vec![10, 100, 1000],
                _ => vec![10, 100],
            };
            levels.sort_unstable();
            levels.dedup();
            levels
        };
        let idle_subjects = self.idle_subjects(&subjects, &runs(CompareWorkload::Idle))?;
        let stages = workloads
            .iter()
            .map(|&w| Stage {
                workload: w,
                levels: levels(w),
                subjects: if w == CompareWorkload::Idle {
                    idle_subjects.clone()
                } else {
                    runs(w)
                },
            })
            .filter(|stage| !stage.subjects.is_empty())
            .collect();
        Ok(Plan {
            stages,
            subjects,
            duration: self.duration.unwrap_or(Duration::from_millis(300)),
            repeat: self.repeat.unwrap_or(if self.quick { 1 } else { 5 }) as usize,
            out: self.out.clone(),
            placement: placement(self.pin, model::cpus()).filter(|_| self.server_host.is_local()),
            cpus: model::cpus(),
            server_host: self.server_host.clone(),
            server_ip: self.server_ip()?,
            client_hosts: self.client_hosts.clone(),
            reach: HostsConfig {
                ssh_config: self.ssh_config.clone(),
                remote_bin: self.remote_bin.clone(),
                ship: self.ship,
            },
            handlers: Handlers {
                cpu: self.cpu_work,
                wait: self.wait,
                database: None,
            },
            queries: self.queries,
            database: self.database(&workloads)?,
        })
    }

    /// `--database`, checked against the workloads and the server host: it is for db
    /// and queries alone; a server on another host cannot reach the private cluster
    /// compare would start here, so it needs one.
    fn database(&self, workloads: &[CompareWorkload]) -> Result<Option<String>> {
        let reads = workloads.iter().any(|w| db::is_db(w.name()));
        match &self.database {
            Some(_) if !reads => Err(usage(
                "--database is for the db and queries workloads (--workload db,queries)",
            )),
            Some(url) if url.trim().is_empty() => Err(usage("--database: no URL given")),
            None if reads && !self.server_host.is_local() => Err(usage(format!(
                "--workload db and queries with --server-host {}: give --database postgres://... (a server that host reaches); the private cluster compare starts is reached from this machine only",
                self.server_host
            ))),
            given => Ok(given.clone()),
        }
    }

    /// The workloads to run, in the order given, each once.
    fn workloads(&self) -> Vec<CompareWorkload> {
        if self.workloads.is_empty() {
            DEFAULT_WORKLOADS.to_vec()
        } else {
            let mut seen = Vec::new();
            for w in &self.workloads {
                let w = *w;
                if !seen.contains(&w) {
                    seen.push(w);
                }
            }
            seen
        }
    }

    /// With `--models all`, adds the variants the work and database workloads among
    /// `workloads` run ([`variants_of`]) to `subjects`, each after the last subject of its model;
    /// returns where they are.
    fn variants(
        &self,
        workloads: &[CompareWorkload],
        subjects: &mut Vec<Subject>,
    ) -> Result<Vec<usize>> {
        if self.models.trim() != "all" {
            return Ok(Vec::new());
        }
        let mut labels: Vec<&str> = Vec::new();
        for label in workloads.iter().flat_map(|&w| variants_of(w)) {
            if !labels.contains(&label) {
                labels.push(label);
            }
        }
        if labels.is_empty() {
            return Ok(Vec::new());
        }
        for variant in parse_models(&labels.join(","))? {
            let model = |s: &Subject| match s {
                Subject::Model { model, .. } => Some(*model),
                Subject::Target { .. } => None,
            };
            let at = subjects
                .iter()
                .rposition(|s| model(s) == model(&variant))
                .map_or(subjects.len(), |i| i + 1);
            subjects.insert(at, variant);
        }
        Ok((0..subjects.len())
            .filter(|&i| labels.contains(&subjects[i].label()))
            .collect())
    }

    /// Where clients reach the servers: `--server-addr`, or the server host's address.
    fn server_ip(&self) -> Result<Option<IpAddr>> {
        if let Some(ip) = self.server_addr {
            return Ok(Some(ip));
        }
        let config = self.ssh_config.as_deref();
        crate::hosts::server_ip(&self.server_host, &self.client_hosts, config).map_err(usage)
    }

    /// The subjects the idle workload runs, as indices into `subjects`, of `everyone`
    /// (the subjects given).
    fn idle_subjects(&self, subjects: &[Subject], everyone: &[usize]) -> Result<Vec<usize>> {
        let everyone = everyone.to_vec();
        let names: Vec<String> = match self.idle_models.as_deref().map(str::trim) {
            Some("all") => return Ok(everyone),
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            None if self.models.trim() == "all" => {
                IDLE_QUESTION_MODELS.iter().map(|s| s.to_string()).collect()
            }
            None => return Ok(everyone),
        };
        let mut picked = Vec::new();
        for name in &names {
            let at = subjects
                .iter()
                .position(|s| s.label() == name)
                .ok_or_else(|| {
                    usage(format!(
                    "--idle-models: '{name}' is not one of the models compared (--models, --target)"
                ))
                })?;
            if !picked.contains(&at) {
                picked.push(at);
            }
        }
        if picked.is_empty() {
            return Err(usage("--idle-models: no model given"));
        }
        picked.sort_unstable();
        Ok(picked)
    }
}

/// The workloads of a comparison when `--workload` is not given.
pub const DEFAULT_WORKLOADS: [CompareWorkload; 3] = [
    CompareWorkload::Echo,
    CompareWorkload::Http,
    CompareWorkload::Idle,
];

/// The variants `workload` runs beside every model with `--models all`: the work
/// workloads' ([`work::variants`]) and the database workloads' ([`db::variants`]).
fn variants_of(workload: CompareWorkload) -> Vec<&'static str> {
    let mut labels = work::variants(workload).to_vec();
    labels.extend(db::variants(workload));
    labels
}

/// Where `pin` puts the servers and the load generator on a machine with `cpus` CPUs.
fn placement(pin: Pin, cpus: usize) -> Option<Placement> {
    (pin == Pin::Separate && cpus >= 2).then(|| Placement {
        server_cpus: (0..cpus - 1).collect(),
        client_cpus: vec![cpus - 1],
    })
}

/// `all`, or `a,b:--flag,...`.
/// The value parser of `--workload`: the names of [`CompareWorkload::ALL`], each with
/// its help, parsed with its `FromStr`.
fn workload_parser() -> impl TypedValueParser<Value = CompareWorkload> {
    let values = CompareWorkload::ALL.map(|w| PossibleValue::new(w.name()).help(w.about()));
    PossibleValuesParser::new(values).try_map(|name| name.parse::<CompareWorkload>())
}

fn parse_models(text: &str) -> Result<Vec<Subject>> {
    if text.trim() == "all" {
        return Ok(model::MODELS
            .iter()
            .map(|m| Subject::Model {
                label: m.name.to_string(),
                model: m.name,
                flags: Vec::new(),
            })
            .collect());
    }
    let mut subjects = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let mut parts = item.split(':');
        let name = parts.next().unwrap_or_default();
        let info = model::find(name).ok_or_else(|| {
            let names: Vec<&str> = model::MODELS.iter().map(|m| m.name).collect();
            usage(format!(
                "--models: no model named '{name}' (models: {})",
                names.join(", ")
            ))
        })?;
        let flags: Vec<String> = parts.map(str::to_string).collect();
        if let Some(bad) = flags.iter().find(|f| !f.starts_with("--")) {
            return Err(usage(format!(
                "--models: '{bad}' in '{item}' is not a serve flag (write MODEL:--flag=value)"
            )));
        }
        let amount = |f: &&String| matches!(f.split('=').next(), Some("--cpu-work" | "--wait"));
        if let Some(bad) = flags.iter().find(amount) {
            return Err(usage(format!(
                "--models: '{bad}' in '{item}': the work amounts are compare's --cpu-work and --wait, the same for every server"
            )));
        }
        if let Some(bad) = flags
            .iter()
            .find(|f| f.split('=').next() == Some("--database"))
        {
            return Err(usage(format!(
                "--models: '{bad}' in '{item}': the database is compare's (--database, or its private cluster), the same for every server"
            )));
        }
        if subjects.iter().any(|s: &Subject| s.label() == item) {
            continue;
        }
        subjects.push(Subject::Model {
            label: item.to_string(),
            model: info.name,
            flags,
        });
    }
    if subjects.is_empty() {
        return Err(usage("--models: no model given"));
    }
    Ok(subjects)
}

/// `NAME=ADDR` or `NAME=ADDR@PID`.
fn parse_target(text: &str) -> Result<Subject, String> {
    let (name, rest) = text
        .split_once('=')
        .ok_or_else(|| format!("'{text}' is not NAME=ADDR[@PID]"))?;
    let (addr, pid) = match rest.split_once('@') {
        Some((addr, pid)) => (
            addr,
            Some(
                pid.parse::<u32>()
                    .map_err(|_| format!("'{pid}' is not a process id"))?,
            ),
        ),
        None => (rest, None),
    };
    let addr: SocketAddr = addr
        .parse()
        .map_err(|_| format!("'{addr}' is not HOST:PORT"))?;
    if name.is_empty() {
        return Err("a target needs a name".into());
    }
    Ok(Subject::Target {
        label: name.to_string(),
        addr,
        pid,
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: CompareArgs,
    }

    fn plan(flags: &[&str]) -> Result<Plan> {
        let cli = Cli::try_parse_from(std::iter::once("compare").chain(flags.iter().copied()))
            .expect("valid flags");
        cli.args.plan()
    }

    /// The labels of the subjects a workload's stage runs.
    fn runs(plan: &Plan, workload: CompareWorkload) -> Vec<String> {
        let stage = plan.stages.iter().find(|s| s.workload == workload);
        stage.map_or_else(Vec::new, |s| {
            s.subjects
                .iter()
                .map(|&i| plan.subjects[i].label().to_string())
                .collect()
        })
    }

    #[test]
    fn the_default_runs_every_model_in_echo_and_http_and_select_poll_epoll_idle() {
        let plan = plan(&[]).unwrap();
        let workloads: Vec<_> = plan.stages.iter().map(|s| s.workload).collect();
        assert_eq!(workloads, DEFAULT_WORKLOADS);
        assert_eq!(
            runs(&plan, CompareWorkload::Echo).len(),
            model::MODELS.len()
        );
        let mut idle = runs(&plan, CompareWorkload::Idle);
        idle.sort();
        assert_eq!(idle, ["epoll", "poll", "select"]);
        let idle_levels = &plan.stages[2].levels;
        assert_eq!(idle_levels, &[0, 1000, 10_000]);
    }

    #[test]
    fn idle_runs_the_models_given_or_those_asked_for() {
        let given = plan(&["--models", "epoll,threads", "--workload", "idle"]).unwrap();
        assert_eq!(runs(&given, CompareWorkload::Idle), ["epoll", "threads"]);
        let asked = plan(&["--workload", "idle", "--idle-models", "poll,uring"]).unwrap();
        assert_eq!(runs(&asked, CompareWorkload::Idle), ["poll", "uring"]);
        let every = plan(&["--workload", "idle", "--idle-models", "all"]).unwrap();
        assert_eq!(
            runs(&every, CompareWorkload::Idle).len(),
            model::MODELS.len()
        );
    }

    #[test]
    fn a_name_report_would_refuse_is_a_usage_error() {
        let err = plan(&["--target", "a|b=127.0.0.1:80"]).unwrap_err();
        assert!(err.to_string().contains("is not a model's name"), "{err}");
        assert!(plan(&["--models", "epoll:--backlog=64"]).is_ok());
    }

    #[test]
    fn wait_and_cpu_run_every_model_and_their_variants_beside_their_model() {
        let plan = plan(&["--workload", "http,wait,cpu"]).unwrap();
        let wait = runs(&plan, CompareWorkload::Wait);
        assert_eq!(wait.len(), model::MODELS.len() + 2);
        let epoll = wait.iter().position(|s| s == "epoll").unwrap();
        assert_eq!(
            wait[epoll..epoll + 3],
            ["epoll", "epoll:--offload=0", "epoll:--offload=8"]
        );
        let cpu = runs(&plan, CompareWorkload::Cpu);
        assert_eq!(cpu.len(), model::MODELS.len() + 1);
        assert!(cpu.contains(&"async:--offload=2".to_string()));
        assert!(!cpu.contains(&"epoll:--offload=0".to_string()));
        assert_eq!(
            runs(&plan, CompareWorkload::Http).len(),
            model::MODELS.len(),
            "no variant where no work is asked"
        );
        let levels = |w| &plan.stages.iter().find(|s| s.workload == w).unwrap().levels;
        assert_eq!(levels(CompareWorkload::Wait), &[10, 100, 1000]);
        assert_eq!(levels(CompareWorkload::Http), &[10, 100]);
        assert_eq!(plan.handlers, Handlers::DEFAULT, "serve's amounts");
    }

    #[test]
    fn the_models_given_replace_the_variants_and_get_compares_amounts() {
        let plan = plan(&[
            "--models",
            "epoll,threads",
            "--workload",
            "wait",
            "--wait",
            "5ms",
            "--cpu-work",
            "50us",
        ])
        .unwrap();
        assert_eq!(runs(&plan, CompareWorkload::Wait), ["epoll", "threads"]);
        assert_eq!(
            plan.work_flags(CompareWorkload::Wait),
            ["--cpu-work", "50000ns", "--wait", "5000000ns"]
        );
        assert!(plan.work_flags(CompareWorkload::Http).is_empty());
        assert!(plan.runs_work());
        let err = plan_err(&["--models", "epoll:--wait=5ms", "--workload", "wait"]);
        assert!(err.contains("the work amounts are compare's"), "{err}");
        let err = plan_err(&["--wait", "0"]);
        assert!(err.contains("more than 0"), "{err}");
    }

    #[test]
    fn the_cpu_bound_counts_the_servers_cpus_and_whether_the_load_shares_them() {
        use crate::results::ideal::Cores;
        let here = plan(&[]).unwrap().server_cores();
        let every = Cores {
            count: model::cpus(),
            shared_with_load: true,
        };
        assert_eq!(here, Some(every));
        let apart = plan(&["--pin", "separate"])
            .unwrap()
            .server_cores()
            .unwrap();
        if model::cpus() >= 2 {
            assert_eq!(
                (apart.count, apart.shared_with_load),
                (model::cpus() - 1, false)
            );
        }
        let there = plan(&["--server-host", "ssh://198.18.0.2"]).unwrap();
        assert_eq!(there.server_cores(), None, "its CPUs are not known here");
    }

    #[test]
    fn db_and_queries_run_only_when_asked_with_the_pool_beside_epoll() {
        let default = plan(&[]).unwrap();
        assert!(
            !default.runs_db(),
            "the default comparison needs no database"
        );
        let plan = plan(&["--workload", "db,queries,wait", "--queries", "7"]).unwrap();
        assert!(plan.runs_db());
        for workload in [CompareWorkload::Db, CompareWorkload::Queries] {
            let subjects = runs(&plan, workload);
            assert_eq!(subjects.len(), model::MODELS.len() + 2, "{subjects:?}");
            let epoll = subjects.iter().position(|s| s == "epoll").unwrap();
            assert_eq!(subjects[epoll + 1], db::LOOP_POOL);
            let async_ = subjects.iter().position(|s| s == "async").unwrap();
            assert_eq!(subjects[async_ + 1], db::ASYNC_POOL);
            assert!(!subjects.contains(&work::LOOP_INLINE.to_string()));
            let levels = &plan.stages.iter().find(|s| s.workload == workload).unwrap();
            assert_eq!(levels.levels, [10, 100, 1000]);
        }
        assert_eq!(plan.path(CompareWorkload::Db), "/db");
        assert_eq!(plan.path(CompareWorkload::Queries), "/queries?queries=7");
        assert_eq!(plan.path(CompareWorkload::Wait), "/wait");
        assert_eq!(plan.database, None, "a private cluster");
        let queries = |flags: &[&str]| plan_err(flags);
        assert!(queries(&["--workload", "queries", "--queries", "501"]).contains("501"));
        assert!(queries(&["--workload", "queries", "--queries", "0"]).contains("0"));
    }

    #[test]
    fn the_database_is_compares_and_for_the_database_workloads() {
        let given = plan(&["--workload", "db", "--database", "postgres://u@db:5432/w"]).unwrap();
        assert_eq!(given.database.as_deref(), Some("postgres://u@db:5432/w"));
        let err = plan_err(&["--database", "postgres://u@db/w"]);
        assert!(
            err.contains("--database is for the db and queries workloads"),
            "{err}"
        );
        let err = plan_err(&["--workload", "db", "--server-host", "ssh://198.18.0.2"]);
        assert!(err.contains("give --database postgres://"), "{err}");
        assert!(plan(&[
            "--workload",
            "db",
            "--server-host",
            "ssh://198.18.0.2",
            "--database",
            "postgres://u@198.18.0.3/w"
        ])
        .is_ok());
        let err = plan_err(&["--workload", "db", "--models", "epoll:--database=dbname=w"]);
        assert!(err.contains("the database is compare's"), "{err}");
    }

    /// The error of flags that clap or the plan refuses.
    fn plan_err(flags: &[&str]) -> String {
        let argv = std::iter::once("compare").chain(flags.iter().copied());
        match Cli::try_parse_from(argv) {
            Ok(cli) => cli.args.plan().unwrap_err().to_string(),
            Err(err) => err.to_string(),
        }
    }

    #[test]
    fn an_idle_model_not_compared_is_a_usage_error() {
        let err = plan(&["--models", "epoll", "--idle-models", "poll"]).unwrap_err();
        assert!(
            err.to_string()
                .contains("'poll' is not one of the models compared"),
            "{err}"
        );
    }

    #[test]
    fn the_server_address_given_is_the_one_clients_use() {
        let given = plan(&[
            "--server-host",
            "ssh://198.18.0.2",
            "--server-addr",
            "10.0.0.7",
        ]);
        assert_eq!(given.unwrap().server_ip, Some("10.0.0.7".parse().unwrap()));
        let resolved = plan(&["--server-host", "ssh://198.18.0.2"]).unwrap();
        assert_eq!(resolved.server_ip, Some("198.18.0.2".parse().unwrap()));
        assert_eq!(plan(&[]).unwrap().server_ip, None);
    }
}
