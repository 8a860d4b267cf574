//! The limit arithmetic on made-up machines: this project's 2-core box, and each limit
//! made short in turn.

use super::*;
use crate::sample::machine::Conntrack;

/// A machine like this project's: 2 cores, a hard limit of 20,000 that cannot be
/// raised, 28,232 ports, 24 GB, 4,044 B of slab a socket end.
fn machine() -> MachineLimits {
    MachineLimits {
        cores: 2,
        nofile: (20_000, 20_000),
        can_raise_nofile: false,
        nr_open: Some(1_048_576),
        file_max: Some(2_466_239),
        files_open: 423,
        file_max_enforced: true,
        ports: 28_232,
        tcp_mem: Some([287_907, 383_877, 575_814]),
        tcp_pages_used: 0,
        page: 4096,
        somaxconn: Some(4096),
        syn_backlog: Some(2048),
        syncookies: true,
        conntrack: Some(Conntrack {
            max: 262_144,
            count: 0,
        }),
        mem_available_kb: Some(24_000_000),
        socket_end_b: Some(4044.0),
    }
}

fn server(workers: u32) -> ServerRoom {
    ServerRoom {
        processes: Some(workers + 1),
        descriptors: Some(u64::from(workers) * 19_990 + 19_995),
        listeners: Some(workers),
    }
}

fn demand(connections: u64, interval_mean_s: u64, cpu_us: f64) -> Demand {
    let fits = 19_936;
    Demand {
        connections,
        local: true,
        processes: connections.div_ceil(fits),
        fits,
        threads: 1,
        sources: None,
        ports_used: 0.25,
        interval_mean: Duration::from_secs(interval_mean_s),
        timeout: Duration::from_secs(5),
        cpu_us: Ok(cpu_us),
        port: 18096,
    }
}

fn allows(rows: &[LimitRow], name: &str) -> Option<u64> {
    rows.iter().find(|r| r.name == name).unwrap().allows
}

#[test]
fn the_interval_rule_keeps_the_pings_within_a_sixth_of_the_cores() {
    // 1,000,000 connections at 30 us a request on 2 cores: a mean of 90 s.
    assert_eq!(
        default_interval(1_000_000, 2, Some(30.0)),
        (Duration::from_secs(30), Duration::from_secs(150))
    );
    // At 20 us, 60 s; at 17 us, 51 s (a whole second, rounded up).
    assert_eq!(
        default_interval(1_000_000, 2, Some(20.0)).1,
        Duration::from_secs(100)
    );
    assert_eq!(
        default_interval(1_000_000, 2, Some(17.0)).1,
        Duration::from_secs(85)
    );
    // Few connections: the floor, seed 003's 1 s..5 s.
    let floor = (Duration::from_secs(1), Duration::from_secs(5));
    assert_eq!(default_interval(10_000, 2, Some(30.0)), floor);
    assert_eq!(default_interval(1_000_000, 2, None), floor);
    // The rule's interval always passes the CPU check, with room to spare.
    let (low, high) = default_interval(1_000_000, 2, Some(30.0));
    let d = Demand {
        interval_mean: (low + high) / 2,
        ..demand(1_000_000, 0, 30.0)
    };
    let cpu = allows(&check(&machine(), &server(64), &d), "CPU for the pings").unwrap();
    assert_eq!(cpu, 6_000_000, "6x the count: a sixth of the cores");
}

#[test]
fn a_million_fits_and_the_cpu_binds_first_at_the_derived_interval() {
    let rows = check(&machine(), &server(64), &demand(1_000_000, 60, 30.0));
    assert_eq!(
        allows(&rows, "descriptors per process"),
        Some(1024 * 19_936)
    );
    assert_eq!(
        allows(&rows, "server descriptors"),
        Some(64 * 19_990 + 19_995)
    );
    // (2,466,239 - 423) / 2 ends.
    assert_eq!(allows(&rows, "descriptors in all"), Some(1_232_908));
    // 24 GB / (2 x 4,044 B).
    assert_eq!(allows(&rows, "kernel memory"), Some(3_038_575));
    // 383,877 pages / (5 s / 60 s).
    assert_eq!(allows(&rows, "TCP buffers"), Some(4_606_524));
    // 64 listeners x 4,096 / 128 waiting a process = 2,048 processes of 19,936.
    assert_eq!(allows(&rows, "listen backlog"), Some(2_048 * 19_936));
    assert_eq!(allows(&rows, "conntrack"), None, "loaded, tracking nothing");
    assert_eq!(allows(&rows, "CPU for the pings"), Some(4_000_000));
    assert_eq!(binding(&rows).unwrap().name, "descriptors in all");
    assert_eq!(refusal(&rows, 1_000_000), None);
}

#[test]
fn c500k_at_one_to_five_seconds_is_refused_for_the_cpu() {
    let rows = check(&machine(), &server(32), &demand(500_000, 3, 30.0));
    // 2 cores x 3 s / 30 us = 200,000; tcp_mem allows 383,877 waiting requests.
    assert_eq!(allows(&rows, "CPU for the pings"), Some(200_000));
    assert_eq!(allows(&rows, "TCP buffers"), Some(383_877));
    let line = refusal(&rows, 500_000).unwrap();
    assert!(
        line.starts_with(
            "this machine cannot hold 500,000 connections: CPU for the pings allows 200,000"
        ),
        "{line}"
    );
    assert!(line.contains("166,667 requests/s"), "{line}");
    assert!(line.contains("= 5.00 cores"), "{line}");
    assert!(
        line.contains("a longer --interval (a mean over 7.5 s;"),
        "{line}"
    );
    assert!(!line.contains('\n'));
}

#[test]
fn each_limit_binds_when_its_figure_is_short() {
    let d = demand(100_000, 6, 30.0);
    let bind = |m: &MachineLimits, s: &ServerRoom, d: &Demand| {
        binding(&check(m, s, d)).unwrap().name.clone()
    };
    // Two workers hold 40,000 at most.
    assert_eq!(bind(&machine(), &server(2), &d), "server descriptors");
    // file-max, enforced, with most files already open.
    let m = MachineLimits {
        files_open: 2_400_000,
        ..machine()
    };
    assert_eq!(bind(&m, &server(8), &d), "descriptors in all");
    // Not enforced for root: no bound.
    let m = MachineLimits {
        file_max_enforced: false,
        ..m
    };
    assert_eq!(
        allows(&check(&m, &server(8), &d), "descriptors in all"),
        None
    );
    // Two given source addresses: 2 x 7,058 ports.
    let given = Demand {
        sources: Some(2),
        ..d.clone()
    };
    assert_eq!(
        allows(&check(&machine(), &server(8), &given), "local ports"),
        Some(14_116)
    );
    assert_eq!(bind(&machine(), &server(8), &given), "local ports");
    // 1 GB available.
    let m = MachineLimits {
        mem_available_kb: Some(1_000_000),
        ..machine()
    };
    assert_eq!(bind(&m, &server(8), &d), "kernel memory");
    // One listener, somaxconn 128: one process's ramp fills it.
    let s = ServerRoom {
        listeners: Some(1),
        ..server(8)
    };
    let m = MachineLimits {
        somaxconn: Some(128),
        ..machine()
    };
    assert_eq!(allows(&check(&m, &s, &d), "listen backlog"), Some(19_936));
    // conntrack in use: its free entries.
    let m = MachineLimits {
        conntrack: Some(Conntrack {
            max: 65_536,
            count: 10,
        }),
        ..machine()
    };
    assert_eq!(
        allows(&check(&m, &server(8), &d), "conntrack"),
        Some(65_526)
    );
    assert_eq!(bind(&m, &server(8), &d), "conntrack");
    // tcp_mem nearly used up.
    let m = MachineLimits {
        tcp_pages_used: 380_000,
        ..machine()
    };
    assert_eq!(bind(&m, &server(8), &d), "TCP buffers");
}

#[test]
fn what_cannot_be_read_sets_no_bound() {
    let m = MachineLimits {
        file_max: None,
        tcp_mem: None,
        somaxconn: None,
        conntrack: None,
        mem_available_kb: None,
        socket_end_b: None,
        ..machine()
    };
    let d = Demand {
        cpu_us: Err("not measured".into()),
        local: false,
        ..demand(50_000, 3, 0.0)
    };
    let rows = check(&m, &ServerRoom::default(), &d);
    let bound: Vec<&str> = rows
        .iter()
        .filter(|r| r.allows.is_some())
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(bound, ["descriptors per process", "local ports"]);
    assert_eq!(
        allows(&rows, "local ports"),
        Some(7_058),
        "one address towards a remote server"
    );
    assert_eq!(refusal(&rows, 50_000).unwrap().split(':').nth(1).unwrap().trim(), "local ports allows 7,058 (7,058 of each address's 28,232 ports (ip_local_port_range; bench uses 25%), from one source address); to lift it");
}
