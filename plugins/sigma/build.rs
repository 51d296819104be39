//! Embeds the shipped rule set (`rules/sigma/cloudtrail/*.yml` at the repository root) into
//! the component, already converted from YAML to JSON by the same code the plugin uses for
//! configured rules (`src/yaml.rs`): the plugin compiles its rules for every batch, and
//! reading JSON is several times faster than parsing YAML.
//!
//! Writes `$OUT_DIR/embedded.rs`: `FILES`, per file (sorted by name) its documents, each a
//! `rule::Shipped`: two JSON texts (the rule without the keys that only findings and the
//! catalog need, which the plugin compiles on first use, and those keys, `INFO_KEYS`, read
//! on first use) and what compiling it gives that the rule set needs before it compiles the
//! rule (whether it loads, its event sources and names, the record fields it reads). A file that is not
//! YAML: why.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Map, Value};

#[path = "src/yaml.rs"]
mod yaml;

// The plugin's own rule compiler, so each shipped rule is compiled here once: whether it
// loads, its event sources and names and the record fields it reads go into the component, which then
// compiles a rule only when a batch's events can match it.
#[allow(dead_code)]
#[path = "src/condition.rs"]
mod condition;
#[allow(dead_code)]
#[path = "src/matcher.rs"]
mod matcher;
#[allow(dead_code)]
#[path = "src/rule.rs"]
mod rule;

const COMPILER_SOURCES: &[&str] = &[
    "src/yaml.rs",
    "src/condition.rs",
    "src/matcher.rs",
    "src/rule.rs",
];

/// The keys the plugin reads to match (`src/rule.rs`); others (`date`, `modified`,
/// `fields`, ...) are left out.
const MATCH_KEYS: &[&str] = &[
    "title",
    "id",
    "status",
    "level",
    "logsource",
    "detection",
    "correlation",
    "action",
    "filter",
];

/// `rule::INFO_KEYS`: what findings and the catalog read besides.
const INFO_KEYS: &[&str] = &[
    "description",
    "references",
    "author",
    "tags",
    "falsepositives",
];

fn part(doc: &Value, keys: &[&str]) -> String {
    let mut map = Map::new();
    if let Some(obj) = doc.as_object() {
        for (k, v) in obj {
            if keys.contains(&k.as_str()) {
                map.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(map).to_string()
}

/// A document as a `rule::Shipped` literal: its parts as JSON, and what compiling the part
/// the plugin compiles (without the info keys) gives.
fn shipped(doc: &Value) -> String {
    let rule_json = part(doc, MATCH_KEYS);
    let split: Value = serde_json::from_str(&rule_json).expect("JSON just written");
    let loaded = rule::load(&split, "");
    let (loads, sources, event_names, record_keys) = match loaded.detection() {
        Ok(detection) => {
            let mut keys = std::collections::BTreeSet::new();
            detection.record_keys(&mut keys);
            (
                true,
                detection.sources.clone(),
                detection.event_names.clone(),
                keys.into_iter().collect(),
            )
        }
        Err(_) => (false, None, None, Vec::new()),
    };
    let literals = |list: Option<Vec<String>>| match list {
        Some(list) => format!("Some(&{list:?})"),
        None => "None".to_owned(),
    };
    let (sources, event_names) = (literals(sources), literals(event_names));
    let meta = &loaded.meta;
    format!(
        "crate::rule::Shipped {{ rule: {rule_json:?}, info: {:?}, id: {:?}, title: {:?}, \
         level: {:?}, status: {:?}, loads: {loads}, sources: {sources}, \
         event_names: {event_names}, record_keys: &{record_keys:?} }},\n",
        part(doc, INFO_KEYS),
        meta.id,
        meta.title,
        meta.level,
        meta.status,
    )
}

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    let dir = Path::new(&manifest).join("../../rules/sigma/cloudtrail");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            panic!(
                "cannot read the shipped Sigma rules in {}: {e}",
                dir.display()
            )
        })
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .collect();
    paths.sort();
    assert!(
        !paths.is_empty(),
        "no Sigma rules (*.yml) in {}",
        dir.display()
    );
    for source in COMPILER_SOURCES {
        println!("cargo:rerun-if-changed={source}");
    }
    let mut out = String::from(
        "/// A file: its name, and its documents or why it is not YAML.\n\
         pub type File = (&'static str, Result<&'static [crate::rule::Shipped], &'static str>);\n\
         /// The shipped rules, by file name.\n\
         pub static FILES: &[File] = &[\n",
    );
    for path in &paths {
        println!("cargo:rerun-if-changed={}", path.display());
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        match yaml::documents(&text) {
            Ok(docs) => {
                let _ = write!(out, "    ({name:?}, Ok(&[");
                for doc in &docs {
                    out.push_str(&shipped(doc));
                }
                out.push_str("])),\n");
            }
            Err(e) => {
                let _ = writeln!(out, "    ({name:?}, Err({e:?})),");
            }
        }
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("embedded.rs");
    std::fs::write(&dest, out).unwrap_or_else(|e| panic!("cannot write {}: {e}", dest.display()));
}
