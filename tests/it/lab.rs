//! Hosts for the remote tests, made from network namespaces: one segment (a bridge in a
//! namespace of its own, so the machine's firewall never sees its traffic) that this
//! namespace and each host join by a veth pair, addresses from 198.18.0.0/15, and a
//! real OpenSSH sshd in each host with keys made for the test, and no sftp subsystem
//! (nothing of iomodels may need one). The ssh configuration names each host by an
//! alias too. [`Lab`]'s Drop tears down every process, namespace and link it made,
//! also when a test fails.
//!
//! Where it cannot be made (not root, no `ip`, no sshd), [`Lab::new`] prints one line
//! and gives `None`, and the test skips; with `CI=true` it panics instead.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The port every test sshd listens on.
pub const SSH_PORT: u16 = 2222;
const SSHD: &str = "/usr/sbin/sshd";

/// Network namespaces joined on one segment, an sshd in each host.
pub struct Lab {
    /// Unique to this lab: names and the subnet's third octet come from it.
    tag: String,
    subnet: u8,
    /// The namespaces made, the bridge's first.
    namespaces: Vec<String>,
    /// The veth links made in this namespace (deleting one deletes its peer).
    links: Vec<String>,
    sshds: Vec<Child>,
    pub dir: PathBuf,
    /// The hosts: their namespace and address.
    pub hosts: Vec<(String, Ipv4Addr)>,
}

/// Why the lab cannot be made here, if it cannot.
fn missing() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1));
    if euid != Some("0") {
        return Some("not root".into());
    }
    for tool in ["ip", "ssh", "ssh-keygen", "setsid"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            return Some(format!("no {tool}"));
        }
    }
    (!Path::new(SSHD).exists()).then(|| format!("no {SSHD} (apt-get install openssh-server)"))
}

/// Runs a command that must succeed; its stdout.
fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A third octet N such that no address of 198.18.N.0/24 is in use here, trying from
/// one `unique` picks (so labs of test runs side by side do not share a segment).
fn free_subnet(unique: u32) -> u8 {
    (0..250)
        .map(|i| ((unique + i) % 250 + 1) as u8)
        .find(|n| {
            let subnet = format!("198.18.{n}.0/24");
            run("ip", &["-4", "-o", "addr", "show", "to", &subnet])
                .is_ok_and(|out| out.trim().is_empty())
        })
        .unwrap_or(1)
}

impl Lab {
    /// A lab of `hosts` hosts (198.18.N.2, .3, ...; this namespace is .1), each
    /// running sshd on [`SSH_PORT`]; `None` (after one line) where it cannot be made,
    /// unless `CI` is set.
    pub fn new(name: &str, hosts: usize) -> Option<Lab> {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        if let Some(why) = missing() {
            assert!(!ci, "CI=true, but the remote test cannot run: {why}");
            println!("skipped {name}: {why}");
            return None;
        }
        static N: AtomicU32 = AtomicU32::new(0);
        let unique = std::process::id() * 8 + N.fetch_add(1, Ordering::Relaxed);
        let tag = format!("im{:x}", unique % 0xf_ffff);
        let dir = crate::util::scratch().join(format!("iomodels-lab-{tag}"));
        let mut lab = Lab {
            subnet: free_subnet(unique),
            tag,
            namespaces: Vec::new(),
            links: Vec::new(),
            sshds: Vec::new(),
            dir,
            hosts: Vec::new(),
        };
        match lab.build(hosts) {
            Ok(()) => Some(lab),
            Err(why) => {
                drop(lab);
                assert!(!ci, "CI=true, but the lab cannot be made: {why}");
                println!("skipped {name}: {why}");
                None
            }
        }
    }

    fn addr(&self, host: u8) -> Ipv4Addr {
        Ipv4Addr::new(198, 18, self.subnet, host)
    }

    /// `ssh://root@ADDR:2222` of host `i`.
    pub fn ssh_url(&self, i: usize) -> String {
        format!("ssh://root@{}:{SSH_PORT}", self.hosts[i].1)
    }

    /// Host `i`'s temporary directory: its sessions' TMPDIR, so that what a test makes
    /// there is apart from what tests running beside it make.
    pub fn tmp(&self, i: usize) -> PathBuf {
        self.dir.join(format!("tmp-{i}"))
    }

    /// `ssh://host{i}`: host `i` by its alias in [`Lab::ssh_config`].
    pub fn alias_url(&self, i: usize) -> String {
        format!("ssh://host{i}")
    }

    /// The ssh configuration file that reaches the hosts with the test's key.
    pub fn ssh_config(&self) -> PathBuf {
        self.dir.join("ssh_config")
    }

    fn build(&mut self, hosts: usize) -> Result<(), String> {
        std::fs::create_dir_all(&self.dir).map_err(|e| e.to_string())?;
        let lan = format!("{}-lan", self.tag);
        self.add_namespace(&lan)?;
        run("ip", &["-n", &lan, "link", "add", "br0", "type", "bridge"])?;
        run("ip", &["-n", &lan, "link", "set", "br0", "up"])?;
        self.join(None, 0)?;
        for i in 0..hosts {
            let ns = format!("{}-h{i}", self.tag);
            self.add_namespace(&ns)?;
            run("ip", &["-n", &ns, "link", "set", "lo", "up"])?;
            self.join(Some(&ns), i + 1)?;
            self.hosts.push((ns, self.addr(i as u8 + 2)));
        }
        self.make_keys()?;
        for i in 0..hosts {
            self.start_sshd(i)?;
        }
        Ok(())
    }

    fn add_namespace(&mut self, ns: &str) -> Result<(), String> {
        run("ip", &["netns", "add", ns])?;
        self.namespaces.push(ns.to_string());
        Ok(())
    }

    /// Joins namespace `ns` (`None`: this one) to the segment as address `.{i + 1}`.
    fn join(&mut self, ns: Option<&str>, i: usize) -> Result<(), String> {
        let lan = &self.namespaces[0];
        let (here, there) = (format!("{}{i}a", self.tag), format!("{}{i}b", self.tag));
        run(
            "ip",
            &["link", "add", &here, "type", "veth", "peer", "name", &there],
        )?;
        self.links.push(here.clone());
        run("ip", &["link", "set", &there, "netns", lan])?;
        run(
            "ip",
            &["-n", lan, "link", "set", &there, "master", "br0", "up"],
        )?;
        if let Some(ns) = ns {
            run("ip", &["link", "set", &here, "netns", ns])?;
        }
        let addr = format!("{}/24", self.addr(i as u8 + 1));
        let in_ns = |args: &[&str]| {
            let mut all: Vec<&str> = ns.map_or_else(Vec::new, |ns| vec!["-n", ns]);
            all.extend(args);
            run("ip", &all)
        };
        in_ns(&["addr", "add", &addr, "dev", &here])?;
        in_ns(&["link", "set", &here, "up"])?;
        Ok(())
    }

    fn make_keys(&self) -> Result<(), String> {
        let dir = self.dir.display().to_string();
        for key in ["host_key", "client_key"] {
            let path = format!("{dir}/{key}");
            run(
                "ssh-keygen",
                &["-q", "-t", "ed25519", "-N", "", "-f", &path],
            )?;
        }
        std::fs::copy(
            self.dir.join("client_key.pub"),
            self.dir.join("authorized_keys"),
        )
        .map_err(|e| e.to_string())?;
        let aliases: String = (0..self.hosts.len())
            .map(|i| {
                format!(
                    "Host host{i}\n  HostName {}\n  Port {SSH_PORT}\n  User root\n",
                    self.hosts[i].1
                )
            })
            .collect();
        let config = format!(
            "{aliases}Host *\n  IdentityFile {dir}/client_key\n  IdentitiesOnly yes\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n"
        );
        std::fs::write(self.ssh_config(), config).map_err(|e| e.to_string())
    }

    fn start_sshd(&mut self, i: usize) -> Result<(), String> {
        let (ns, addr) = self.hosts[i].clone();
        let dir = self.dir.display();
        let config = format!(
            "Port {SSH_PORT}\nListenAddress {addr}\nHostKey {dir}/host_key\nAuthorizedKeysFile {dir}/authorized_keys\nPermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPidFile {dir}/sshd-{i}.pid\nSetEnv TMPDIR={}\n",
            self.tmp(i).display()
        );
        std::fs::create_dir_all(self.tmp(i)).map_err(|e| e.to_string())?;
        let path = self.dir.join(format!("sshd_config-{i}"));
        std::fs::write(&path, config).map_err(|e| e.to_string())?;
        // sshd's privilege separation directory, as the package's service makes it.
        let _ = std::fs::create_dir_all("/run/sshd");
        let child = Command::new("ip")
            .args(["netns", "exec", &ns, SSHD, "-D", "-e", "-f"])
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("sshd: {e}"))?;
        self.sshds.push(child);
        let started = Instant::now();
        while TcpStream::connect_timeout(
            &SocketAddr::from((addr, SSH_PORT)),
            Duration::from_millis(200),
        )
        .is_err()
        {
            if started.elapsed() > Duration::from_secs(10) {
                return Err(format!("sshd in {ns} did not start listening"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// The processes in host `i`'s namespace, with their command lines.
    pub fn processes(&self, i: usize) -> Vec<(u32, String)> {
        let pids = run("ip", &["netns", "pids", &self.hosts[i].0]).unwrap_or_default();
        pids.split_whitespace()
            .filter_map(|p| p.parse().ok())
            .map(|pid: u32| {
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                (pid, text.trim().to_string())
            })
            .collect()
    }

    /// The `iomodels` processes in host `i`'s namespace.
    pub fn iomodels_there(&self, i: usize) -> Vec<(u32, String)> {
        self.processes(i)
            .into_iter()
            .filter(|(_, cmd)| cmd.contains("iomodels") && !cmd.starts_with("sshd"))
            .collect()
    }

    /// Runs `program ARGS` in host `i`'s namespace, as a child process.
    pub fn command_in(&self, i: usize, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.hosts[i].0, program]);
        cmd
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for sshd in &mut self.sshds {
            let _ = sshd.kill();
            let _ = sshd.wait();
        }
        // Whatever else runs in a host (sshd's sessions, a process a test left): all
        // of it was started by the test, in a namespace of the test's.
        for i in 0..self.hosts.len() {
            for (pid, _) in self.processes(i) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        for link in &self.links {
            let _ = run("ip", &["link", "del", link]);
        }
        for ns in self.namespaces.iter().rev() {
            let _ = run("ip", &["netns", "del", ns]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
