//! `compare` across hosts made from network namespaces, each with a real sshd: the
//! server on another host reached by its ssh alias (its cost and the floor measured
//! there, nothing of it left there afterwards, even when compare is killed, nor of
//! compare's ssh here), faults in one line, and bench runs from two hosts started
//! together and merged exactly.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::bench_util::{bin, run_bounded};
use crate::lab::Lab;

fn out_dir(lab: &Lab, name: &str) -> PathBuf {
    lab.dir.join(name)
}

/// `compare --server-host` host 0 of `lab` (by its alias), running `remote_bin`
/// there, with `args` after it.
fn compare_there(lab: &Lab, remote_bin: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.arg("compare")
        .args(["--server-host", &lab.alias_url(0)])
        .arg("--ssh-config")
        .arg(lab.ssh_config())
        .args(["--remote-bin", remote_bin])
        .args(args);
    cmd
}

/// The directories `--ship` made on host `i`.
fn shipped(lab: &Lab, i: usize) -> usize {
    std::fs::read_dir(lab.tmp(i))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with("iomodels-ship.")
                })
                .count()
        })
        .unwrap_or(0)
}

/// Waits up to 5 s for no `iomodels` process to be left in host `i`; those left.
fn nothing_left(lab: &Lab, i: usize) -> Vec<(u32, String)> {
    let started = Instant::now();
    loop {
        let left = lab.iomodels_there(i);
        if left.is_empty() || started.elapsed() > Duration::from_secs(5) {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn compare_measures_a_server_on_another_host() {
    let Some(lab) = Lab::new("compare_measures_a_server_on_another_host", 1) else {
        return;
    };
    let out = out_dir(&lab, "report");
    // No iomodels there: --ship copies this one over, through the same connection and
    // with no sftp there; the host is named by its alias in the ssh configuration.
    let result = run_bounded(
        compare_there(
            &lab,
            "/nonexistent/iomodels",
            &[
                "--ship",
                "--models",
                "epoll,poll",
                "--workload",
                "http,idle",
                "--idle",
                "0,200",
                "--quick",
                "--out",
            ],
        )
        .arg(&out),
    );
    let report = report_of(&result, &out);
    let host = lab.alias_url(0);
    assert_eq!(report["server_host"], host.as_str());
    for cell in report["cells"].as_array().unwrap() {
        let median = &cell["figures"]["median"];
        assert!(
            median["x_floor"].as_f64().is_some_and(|x| x > 0.0),
            "no x floor for {} at {}: {cell:#}",
            cell["subject"],
            cell["level"]
        );
        assert!(median["ctx_per_req"].as_f64().is_some(), "{cell:#}");
        if cell["workload"] == "idle" && cell["level"].as_u64() > Some(0) {
            // Memory per held connection, against the server at rest there.
            assert!(median["private_per_conn_b"].as_f64().is_some(), "{cell:#}");
        }
    }
    let subjects: Vec<&str> = report["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["subject"].as_str().unwrap())
        .collect();
    assert!(subjects.contains(&"epoll") && subjects.contains(&"poll"));
    for stop in report["stops"].as_array().unwrap() {
        assert_eq!(stop["left_behind"].as_array().unwrap().len(), 0, "{stop}");
    }
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains(&host), "report.md names the server's host");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains(&host), "report.html names it");
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(stdout.contains(&host), "the terminal names it: {stdout}");
    assert_eq!(
        nothing_left(&lab, 0),
        Vec::new(),
        "left running on the host"
    );
    assert_eq!(shipped(&lab, 0), 0, "the shipped copy is removed");
}

/// compare killed outright (SIGKILL) in the middle of a run that shipped its
/// executable: nothing of it is left, there (its server, the shipped copy) or here (its
/// ssh master, the control directory).
#[test]
fn a_killed_compare_leaves_nothing_on_the_host() {
    let Some(lab) = Lab::new("a_killed_compare_leaves_nothing_on_the_host", 1) else {
        return;
    };
    let out = out_dir(&lab, "killed");
    let mut compare = compare_there(
        &lab,
        "/nonexistent/iomodels",
        &[
            "--ship",
            "--models",
            "epoll",
            "--workload",
            "http",
            "--repeat",
            "20",
            "--out",
        ],
    )
    .arg(&out)
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let started = Instant::now();
    while !lab
        .iomodels_there(0)
        .iter()
        .any(|(_, cmd)| cmd.contains(" serve "))
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no server started there"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        shipped(&lab, 0),
        1,
        "the copy is shipped to the host's TMPDIR"
    );
    let helpers = crate::util::descendants(compare.id());
    let control_dirs = control_dirs_of(&helpers);
    assert_eq!(
        control_dirs.len(),
        1,
        "one ssh master, in one control directory"
    );
    let _ = compare.kill();
    let _ = compare.wait();
    let left = nothing_left(&lab, 0);
    let give_up = Instant::now() + Duration::from_secs(5);
    let remains = || {
        let alive = helpers
            .iter()
            .filter(|&&pid| crate::util::process_exists(pid) && !is_zombie(pid));
        let mut remains: Vec<String> = alive.map(|pid| format!("process {pid}")).collect();
        remains.extend(
            control_dirs
                .iter()
                .filter(|d| d.exists())
                .map(|d| d.display().to_string()),
        );
        if shipped(&lab, 0) > 0 {
            remains.push("the shipped copy".into());
        }
        remains
    };
    while !remains().is_empty() && Instant::now() < give_up {
        std::thread::sleep(Duration::from_millis(20));
    }
    let remains = remains();
    for pid in &helpers {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(*pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    assert_eq!(left, Vec::new(), "left running on the host");
    assert_eq!(
        remains,
        Vec::<String>::new(),
        "left here 5 s after the kill"
    );
}

/// The control directories in the command lines of `pids` (their ControlPath).
fn control_dirs_of(pids: &[u32]) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = pids
        .iter()
        .filter_map(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).ok())
        .filter_map(|cmdline| {
            let text = String::from_utf8_lossy(&cmdline).into_owned();
            let path = text
                .split('\0')
                .find_map(|a| a.strip_prefix("ControlPath="))?;
            Some(PathBuf::from(path.strip_suffix("/%C")?))
        })
        .collect();
    dirs.sort();
    dirs.dedup();
    dirs
}

/// Has `pid` exited, waiting for its parent to reap it?
fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .is_some_and(|(_, rest)| rest.starts_with(" Z"))
    })
}

#[test]
fn host_faults_are_one_line_that_says_where_and_what() {
    let Some(lab) = Lab::new("host_faults_are_one_line_that_says_where_and_what", 1) else {
        return;
    };
    let host = lab.hosts[0].1;
    let no_sshd = format!("ssh://root@{host}:2223");
    let stranger = lab.dir.join("stranger_config");
    std::fs::write(
        &stranger,
        "Host *\n  IdentityFile /nonexistent\n  IdentitiesOnly yes\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n",
    )
    .unwrap();
    let config = lab.ssh_config();
    // Another build of this version: this executable and a byte more, which runs alike.
    let other = lab.dir.join("iomodels-other");
    std::fs::copy(bin(), &other).unwrap();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&other)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"\0"))
        .unwrap();
    let other = other.display().to_string();
    let cases: [(&str, &PathBuf, &str, &str); 4] = [
        (&no_sshd, &config, bin(), "unreachable"),
        (&lab.ssh_url(0), &stranger, bin(), "ssh refused"),
        (
            &lab.ssh_url(0),
            &config,
            "/nonexistent/iomodels",
            "no iomodels there",
        ),
        (&lab.ssh_url(0), &config, &other, " build "),
    ];
    for (url, config, remote_bin, expected) in cases {
        let result = run_bounded(
            Command::new(bin())
                .args(["compare", "--models", "epoll", "--server-host", url])
                .arg("--ssh-config")
                .arg(config)
                .args(["--remote-bin", remote_bin, "--out"])
                .arg(out_dir(&lab, "fault")),
        );
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert_eq!(result.status.code(), Some(2), "{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains(url) && stderr.contains(expected),
            "{stderr}"
        );
    }
}

#[test]
fn bench_from_two_hosts_at_one_time_merges_exactly() {
    let Some(lab) = Lab::new("bench_from_two_hosts_at_one_time_merges_exactly", 2) else {
        return;
    };
    let serve_addr = format!("{}:0", lab.hosts[0].1);
    let mut server = lab
        .command_in(0, bin())
        .args(["serve", "epoll", "--proto", "http", "--addr", &serve_addr])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(server.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    let url = format!(
        "http://{}/",
        line.trim().trim_start_matches("listening on ")
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let at = format!("{:.3}", now + 1.5);
    // One client in host 1, one here: two machines as far as the network goes.
    let json = |name: &str| lab.dir.join(name);
    let bench_args = |file: &PathBuf| {
        let mut args: Vec<String> = ["bench", "http", &url, "--connections", "4"]
            .map(String::from)
            .to_vec();
        args.extend([
            "--duration".into(),
            "600ms".into(),
            "--start-at".into(),
            at.clone(),
        ]);
        args.extend(["--json".into(), file.display().to_string()]);
        args
    };
    let (a, b) = (json("a.json"), json("b.json"));
    let (ra, rb) = std::thread::scope(|s| {
        let there = s.spawn(|| run_bounded(lab.command_in(1, bin()).args(bench_args(&a))));
        let here = s.spawn(|| run_bounded(Command::new(bin()).args(bench_args(&b))));
        (there.join().unwrap(), here.join().unwrap())
    });
    let _ = server.kill();
    let _ = server.wait();
    for r in [&ra, &rb] {
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    }
    let read = |p: &PathBuf| -> Value {
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    let (a, b) = (read(&a), read(&b));
    assert!(a["requests"].as_u64() > Some(0) && b["requests"].as_u64() > Some(0));
    let merged = crate::merge::merged_sums(&a, &b);
    let spread = merged["start_spread_s"].as_f64().unwrap();
    assert!(spread < 0.1, "started {spread} s apart");
}

/// `compare ARGS --ssh-config ... --remote-bin ...` over `lab`'s hosts; its report.
fn compare_over(lab: &Lab, name: &str, args: &[&str]) -> Value {
    let out = out_dir(lab, name);
    let result = run_bounded(
        Command::new(bin())
            .arg("compare")
            .args(args)
            .arg("--ssh-config")
            .arg(lab.ssh_config())
            .args(["--remote-bin", bin()])
            .args(["--models", "epoll", "--workload", "http", "--quick"])
            .args(["--concurrency", "4", "--out"])
            .arg(&out),
    );
    report_of(&result, &out)
}

/// The report a compare that ended with `result` wrote in `out`: it succeeded, and
/// the report follows the schema.
fn report_of(result: &std::process::Output, out: &std::path::Path) -> Value {
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(result.status.success(), "compare failed: {stderr}");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    crate::util::validate_json("compare.schema.json", &report);
    report
}

/// Every cell of `report` has an x floor, and runs merged from `parts` hosts that
/// started together.
fn merged_from(report: &Value, parts: usize) {
    for cell in report["cells"].as_array().unwrap() {
        assert!(
            cell["figures"]["median"]["x_floor"].as_f64().is_some(),
            "{cell:#}"
        );
        for run in cell["runs"].as_array().unwrap() {
            assert_eq!(run["parts"].as_array().unwrap().len(), parts, "{run:#}");
            let spread = run["start_spread_s"].as_f64().unwrap();
            assert!(spread < 0.2, "started {spread} s apart");
        }
    }
}

#[test]
fn compare_loads_a_server_from_several_hosts_at_once() {
    let Some(lab) = Lab::new("compare_loads_a_server_from_several_hosts_at_once", 2) else {
        return;
    };
    // The client host by its alias: its address (the route toward it) as ssh resolves it.
    let (server, client) = (lab.ssh_url(0), lab.alias_url(1));
    let args = ["--server-host", &server, "--client-host", &client];
    let report = compare_over(
        &lab,
        "two-clients",
        &[&args[..], &["--client-host", "local"]].concat(),
    );
    assert_eq!(report["server_host"], server.as_str());
    assert_eq!(report["client_hosts"], serde_json::json!([client, "local"]));
    merged_from(&report, 2);
    // The server here, the load from a host: it listens where that host can reach it.
    let report = compare_over(&lab, "here", &["--client-host", &client]);
    assert!(report.get("server_host").is_none());
    merged_from(&report, 1);
    for host in 0..2 {
        let left = nothing_left(&lab, host);
        assert_eq!(left, Vec::new(), "left running on host {host}");
    }
}
