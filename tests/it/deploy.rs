//! The launcher recipes cannot rot: every command line in the Kubernetes manifests
//! under `deploy/` and in the README's pdsh recipe is parsed with iomodels' own parser
//! (`Cli::try_parse_from`), after the substitutions Kubernetes and the shell make, and
//! each merge reads the files its bench runs write.

use clap::Parser;
use iomodels::bench::args::WorkloadArgs;
use iomodels::cli::{Cli, Command};

fn manifest(name: &str) -> String {
    let path = format!("{}/deploy/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).unwrap()
}

/// Every `command:` of a manifest, as the JSON array it is written as.
fn commands(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("command:"))
        .map(|array| serde_json::from_str(array.trim()).expect("a command as a JSON array"))
        .collect()
}

/// The value a manifest gives a field, `key: VALUE` (the first one, quotes removed).
fn field<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key}"))
        .trim()
        .trim_matches('"')
}

/// Kubernetes' `$(VAR)` expansion, for pod `index`.
fn expand(word: &str, start_at: &str, index: usize) -> String {
    word.replace("$(START_AT)", start_at)
        .replace("$(JOB_COMPLETION_INDEX)", &index.to_string())
}

#[test]
fn every_bench_pod_parses_and_writes_its_own_run_from_one_start_time() {
    let job = manifest("bench-indexed-job.yaml");
    assert_eq!(field(&job, "completionMode"), "Indexed");
    let pods: usize = field(&job, "completions").parse().unwrap();
    assert_eq!(field(&job, "parallelism"), pods.to_string());
    let start_at = field(&job, "value");
    let [command] = commands(&job).try_into().expect("one command");
    let mut files = Vec::new();
    for index in 0..pods {
        let argv: Vec<String> = command.iter().map(|w| expand(w, start_at, index)).collect();
        let cli = Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
        let Command::Bench(bench) = cli.command else {
            panic!("not a bench: {argv:?}");
        };
        let WorkloadArgs::Http(http) = bench.workload else {
            panic!("not bench http: {argv:?}");
        };
        assert!(http.common.start_at.is_some(), "no --start-at: {argv:?}");
        files.push(http.common.json.expect("--json"));
    }
    files.dedup();
    assert_eq!(
        files.len(),
        pods,
        "every pod writes its own file: {files:?}"
    );
    merge_reads(&files);
}

/// The merge Job's command, its glob expanded over `files`, parses as a merge of them.
fn merge_reads(files: &[std::path::PathBuf]) {
    let job = manifest("merge-job.yaml");
    let [command] = commands(&job).try_into().expect("one command");
    assert_eq!(command[..2], ["sh", "-c"]);
    let mut argv = Vec::new();
    for word in command[2].split_whitespace() {
        match word.split_once('*') {
            Some((head, tail)) => {
                let matched: Vec<String> = files
                    .iter()
                    .map(|f| f.display().to_string())
                    .filter(|f| f.starts_with(head) && f.ends_with(tail))
                    .collect();
                assert_eq!(matched.len(), files.len(), "{word} matches every run");
                argv.extend(matched);
            }
            None => argv.push(word.to_string()),
        }
    }
    let cli = Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    let Command::Merge(merge) = cli.command else {
        panic!("not a merge: {argv:?}");
    };
    assert_eq!(merge.runs, files);
}

#[test]
fn the_readmes_pdsh_recipe_parses() {
    let readme =
        std::fs::read_to_string(format!("{}/README.md", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let line = |prefix: &str| {
        readme
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starting with {prefix}"))
    };
    // pdsh -w HOSTS "iomodels bench ... --start-at $T ...": the quoted command.
    let quoted = line("pdsh -w").split('"').nth(1).expect("a quoted command");
    let argv: Vec<&str> = quoted
        .split_whitespace()
        .map(|w| if w == "$T" { "1767225600" } else { w })
        .collect();
    let cli = Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    assert!(matches!(cli.command, Command::Bench(_)), "{argv:?}");
    assert!(quoted.contains("--start-at $T") && quoted.contains("--json /tmp/run.json"));
    // rpdcp appends each host's name to the file it brings back.
    let merge = line("iomodels merge runs/run.json.*").replace(
        "runs/run.json.*",
        "runs/run.json.client1 runs/run.json.client2",
    );
    let argv: Vec<&str> = merge.split_whitespace().collect();
    let cli = Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    let Command::Merge(merge) = cli.command else {
        panic!("not a merge: {argv:?}");
    };
    assert_eq!(merge.runs.len(), 2);
}
