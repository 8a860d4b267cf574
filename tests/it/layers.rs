//! The architecture as a test: every `crate::X` reference in a file under `src/` names a
//! module in the file's own layer or below, and no two modules import each other round
//! a cycle. The layers are the ones `src/lib.rs`'s map gives, ground first. And clap is
//! imported only where the command line lives: `src/cli*` and the `args.rs` beside each
//! command.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, ground first: a module may import from its own layer and the ones below.
const LAYERS: &[&[&str]] = &[
    &[
        "error", "log", "sys", "units", "protocol", "work", "db", "stats",
    ],
    &["conn"],
    &["model"],
    &["serve"],
    &["sample"],
    &["results"],
    &["bench", "floor"],
    &["hosts"],
    &["compare"],
    &["report"],
    &["cli"],
];

/// Macros exported at the crate root, and the module that defines each.
const MACROS: &[(&str, &str)] = &[("vlog", "log")];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`None` for lib.rs and main.rs).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let first = file.strip_prefix(src).ok()?.components().next()?;
    let name = first.as_os_str().to_str()?.trim_end_matches(".rs");
    (name != "lib" && name != "main").then(|| name.to_string())
}

/// The file's code without its unit tests and its `//` comments (doc links are not imports).
fn code_of(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or("");
    text.lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

fn ident_at(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// Every top-level module a piece of code names through `crate::`.
fn references(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for item in group.split(',') {
                let name = ident_at(item.trim());
                if name.chars().next().is_some_and(|c| c.is_ascii_lowercase()) {
                    found.insert(name.to_string());
                }
            }
        } else {
            let name = ident_at(rest);
            if name.chars().next().is_some_and(|c| c.is_ascii_lowercase()) {
                found.insert(name.to_string());
            }
        }
    }
    found
        .into_iter()
        .map(|name| {
            MACROS
                .iter()
                .find(|(m, _)| *m == name)
                .map_or(name, |(_, module)| module.to_string())
        })
        .collect()
}

fn src_files() -> (PathBuf, Vec<PathBuf>) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    (src, files)
}

/// module -> the modules it names, with one file that names each.
fn import_graph() -> BTreeMap<String, BTreeMap<String, PathBuf>> {
    let (src, files) = src_files();
    let mut graph: BTreeMap<String, BTreeMap<String, PathBuf>> = BTreeMap::new();
    for file in files {
        let Some(module) = module_of(&src, &file) else {
            continue;
        };
        let text = std::fs::read_to_string(&file).expect("a readable source file");
        for target in references(&code_of(&text)) {
            if target != module {
                graph
                    .entry(module.clone())
                    .or_default()
                    .entry(target)
                    .or_insert_with(|| file.clone());
            }
        }
    }
    graph
}

#[test]
fn every_module_is_in_a_layer() {
    let graph = import_graph();
    let modules: BTreeSet<&String> = graph
        .iter()
        .flat_map(|(from, to)| std::iter::once(from).chain(to.keys()))
        .collect();
    let unplaced: Vec<&&String> = modules.iter().filter(|m| layer_of(m).is_none()).collect();
    assert!(unplaced.is_empty(), "modules in no layer: {unplaced:?}");
    assert!(
        modules.len() >= 14,
        "the scan found too few modules: {modules:?}"
    );
}

#[test]
fn every_import_points_down() {
    let mut upward = Vec::new();
    for (from, targets) in import_graph() {
        for (to, file) in targets {
            if let (Some(f), Some(t)) = (layer_of(&from), layer_of(&to)) {
                if t > f {
                    upward.push(format!(
                        "{} imports {to} ({from} is below it)",
                        file.display()
                    ));
                }
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports that point up:\n{}",
        upward.join("\n")
    );
}

#[test]
fn no_modules_import_each_other_round_a_cycle() {
    let graph = import_graph();
    // Depth-first search for a back edge, from every module.
    fn visit<'a>(
        node: &'a str,
        graph: &'a BTreeMap<String, BTreeMap<String, PathBuf>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| *n == node) {
            return Some(path[at..].iter().map(|n| n.to_string()).collect());
        }
        if !done.insert(node) {
            return None;
        }
        path.push(node);
        for next in graph.get(node).into_iter().flat_map(|t| t.keys()) {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for module in graph.keys() {
        let cycle = visit(module, &graph, &mut Vec::new(), &mut done);
        assert!(cycle.is_none(), "an import cycle: {:?}", cycle.unwrap());
    }
}

#[test]
fn the_scan_sees_imports_of_every_form() {
    let code = "use crate::conn::ready;\nuse crate::{error::usage, protocol};\nlet x = crate::vlog!(\"a\");";
    let found: Vec<String> = references(code).into_iter().collect();
    assert_eq!(found, ["conn", "error", "log", "protocol"]);
}

/// Does this code use clap (an import, a path, a derive)?
fn uses_clap(code: &str) -> bool {
    code.match_indices("clap").any(|(at, _)| {
        let before = code[..at].chars().next_back();
        let after = &code[at + "clap".len()..];
        !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '"')
            && (after.starts_with("::") || after.starts_with(';') || after.starts_with(" as"))
    })
}

/// May this file define a command line: the top-level one in `src/cli*`, or a
/// command's own in an `args.rs` beside it?
fn holds_a_command_line(src: &Path, file: &Path) -> bool {
    module_of(src, file).as_deref() == Some("cli")
        || file.file_name().is_some_and(|n| n == "args.rs")
}

#[test]
fn clap_is_used_only_where_the_command_line_lives() {
    let (src, files) = src_files();
    let outside: Vec<String> = files
        .iter()
        .filter(|file| !holds_a_command_line(&src, file))
        .filter(|file| uses_clap(&code_of(&std::fs::read_to_string(file).expect("readable"))))
        .map(|file| file.display().to_string())
        .collect();
    assert!(
        outside.is_empty(),
        "clap used outside src/cli* and */args.rs:\n{}",
        outside.join("\n")
    );
}

#[test]
fn the_clap_scan_sees_every_form() {
    for code in [
        "use clap::Args;",
        "use clap::{Parser, ValueEnum};",
        "#[derive(Debug, clap::ValueEnum)]",
        "<W as clap::ValueEnum>::from_str(w, false)",
        "value_parser = clap::value_parser!(u32)",
        "extern crate clap;",
    ] {
        assert!(uses_clap(code), "{code}");
    }
    for code in ["let clapped = 1;", "fn noclap() {}", "\"clap\""] {
        assert!(!uses_clap(code), "{code}");
    }
}
