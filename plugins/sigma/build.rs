//! Embeds the shipped rule set (`rules/sigma/cloudtrail/*.yml` at the repository root) into
//! the component, already converted from YAML to JSON by the same code the plugin uses for
//! configured rules (`src/yaml.rs`): the plugin compiles its rules for every batch, and
//! reading JSON is several times faster than parsing YAML.
//!
//! Writes `$OUT_DIR/embedded.rs`: `FILES`, per file (sorted by name) its documents, each as
//! two JSON texts: the rule without the keys that only findings and the catalog need, and
//! those keys (`INFO_KEYS`), read on first use. A file that is not YAML: why.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Map, Value};

#[path = "src/yaml.rs"]
mod yaml;

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
    let mut out = String::from(
        "/// A rule document: (the rule as JSON without the info keys, the info keys as JSON).\n\
         pub type Doc = (&'static str, &'static str);\n\
         /// A file: its name, and its documents or why it is not YAML.\n\
         pub type File = (&'static str, Result<&'static [Doc], &'static str>);\n\
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
                    let _ = write!(
                        out,
                        "({:?}, {:?}), ",
                        part(doc, MATCH_KEYS),
                        part(doc, INFO_KEYS)
                    );
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
