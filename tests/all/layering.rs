//! The host's modules import each other in one direction: a test that fails on a new import
//! cycle between the top-level modules of `host/src`.
//!
//! The graph is read from the sources: an edge A -> B when a file of module A names
//! `crate::B` (in a `use`, a `use crate::{B, ...}` group, or a path). Comments are ignored.
//! The graph must have no cycle, but for the edges in [`KNOWN_BACK_EDGES`] (none today). An
//! entry whose edge is gone fails too, so the list only shrinks.
//!
//! Between crates Cargo refuses cycles; the sandbox crate is also held to the dependencies
//! it must not have (a database, grants, the configuration).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::support::repo;

/// Edges that close a cycle, each with why it exists. Empty: the host's modules form no
/// cycle. Adding one needs a reason the lead accepts; the sandbox, response and store crates
/// cannot import the host at all.
const KNOWN_BACK_EDGES: &[(&str, &str, &str)] = &[];

type Graph = BTreeMap<String, BTreeSet<String>>;

/// The top-level modules of `host/src` and the files of each.
fn modules(src: &Path) -> BTreeMap<String, Vec<std::path::PathBuf>> {
    let mut modules = BTreeMap::new();
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if name == "lib" || name == "main" {
            continue;
        }
        let mut files = Vec::new();
        collect_rust_files(&path, &mut files);
        modules.entry(name).or_insert_with(Vec::new).extend(files);
    }
    modules
}

fn collect_rust_files(path: &Path, out: &mut Vec<std::path::PathBuf>) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            collect_rust_files(&entry.unwrap().path(), out);
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_path_buf());
    }
}

/// The first segment of every `crate::` path in `source`, comments left out.
fn crate_paths(source: &str) -> BTreeSet<String> {
    let code: String = source
        .lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a, b::{c, d}}`: the first segment of each top-level item.
            let (mut depth, mut item_start) = (0usize, true);
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && !c.is_whitespace() => {
                        found.insert(ident(&group[i..]));
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            found.insert(ident(rest));
        }
    }
    found
}

fn import_graph() -> Graph {
    let modules = modules(&repo().join("host/src"));
    let mut graph = Graph::new();
    for (module, files) in &modules {
        let targets = graph.entry(module.clone()).or_default();
        for file in files {
            let source = std::fs::read_to_string(file).unwrap();
            targets.extend(
                crate_paths(&source)
                    .into_iter()
                    .filter(|m| m != module && modules.contains_key(m)),
            );
        }
    }
    graph
}

/// The strongly connected components of more than one module (Tarjan), each sorted.
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    struct Walk<'a> {
        graph: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, v: &'a str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.graph.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.push(w.to_owned());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !walk.index.contains_key(v.as_str()) {
            walk.visit(v);
        }
    }
    walk.found
}

#[test]
fn host_modules_import_each_other_without_new_cycles() {
    let mut graph = import_graph();
    assert!(
        graph.len() > 20 && graph["cli"].contains("pipeline"),
        "the import graph was not read: {graph:?}"
    );
    // Today's cycles, for the record (`cargo test layering -- --nocapture`).
    for component in cycles(&graph) {
        println!(
            "cycle of {} modules: {}",
            component.len(),
            component.join(" ")
        );
    }
    let mut stale = Vec::new();
    for (from, to, _) in KNOWN_BACK_EDGES {
        if !graph
            .get_mut(*from)
            .is_some_and(|targets| targets.remove(*to))
        {
            stale.push(format!("{from} -> {to}"));
        }
    }
    assert!(
        stale.is_empty(),
        "these known back edges are gone: delete them from KNOWN_BACK_EDGES: {stale:?}"
    );
    let left = cycles(&graph);
    assert!(
        left.is_empty(),
        "import cycles between host modules (an edge A -> B is a `crate::B` in A): {left:?}\n\
         break the new edge (move the shared type down, or pass what is needed in)"
    );
}

#[test]
fn crate_paths_are_read_from_uses_groups_and_paths_but_not_comments() {
    let source = "use crate::a::X;\nuse crate::{b, c::{D, E}, d as f};\n\
                  // crate::commented\nlet x = crate::e::run(); /// crate::doc\n";
    let found: Vec<String> = crate_paths(source).into_iter().collect();
    assert_eq!(found, ["a", "b", "c", "d", "e"]);
    let mut graph = Graph::new();
    graph.entry("a".into()).or_default().insert("b".into());
    graph.entry("b".into()).or_default().insert("c".into());
    graph.entry("c".into()).or_default().insert("a".into());
    graph.entry("d".into()).or_default().insert("a".into());
    assert_eq!(cycles(&graph), vec![vec!["a", "b", "c"]]);
}

/// The sandbox crate's direct dependencies, by name.
fn runtime_dependencies() -> Vec<String> {
    let manifest = std::fs::read_to_string(repo().join("crates/runtime/Cargo.toml")).unwrap();
    manifest
        .split("\n[")
        .find(|section| section.starts_with("dependencies]"))
        .expect("crates/runtime/Cargo.toml has [dependencies]")
        .lines()
        .skip(1)
        .filter_map(|line| line.split(['=', '.']).next())
        .map(str::trim)
        .filter(|name| !name.is_empty() && !name.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_sandbox_crate_reaches_no_database_grant_or_configuration() {
    let dependencies = runtime_dependencies();
    assert!(
        dependencies.iter().any(|d| d == "wasmtime"),
        "the manifest was not read: {dependencies:?}"
    );
    // SQLite and the stores, the response crate (grants), the host (its config), the
    // config file's format: what the host hands in through PluginStores and PluginSource.
    for refused in [
        "rusqlite",
        "trailwarden-store",
        "trailwarden-respond",
        "trailwarden",
        "toml",
    ] {
        assert!(
            !dependencies.iter().any(|d| d == refused),
            "trailwarden-runtime depends on {refused}: reach it through a trait the host \
             implements instead"
        );
    }
}
