//! Embeds the shipped rule set (`rules/sigma/cloudtrail/*.yml` at the repository root) into
//! the component, already converted from YAML to JSON by the same code the plugin uses for
//! configured rules (`src/yaml.rs`): loading JSON per batch is several times faster than
//! parsing YAML.
//!
//! Writes `$OUT_DIR/embedded.json`: `[{"path": "<file name>", "docs": [<document>, ...]}`
//! or `{"path", "error"}` for a file that is not YAML`]`, sorted by file name.

use std::path::Path;

#[path = "src/yaml.rs"]
mod yaml;

/// The top-level keys of a rule that the plugin reads (src/rule.rs).
const USED_KEYS: &[&str] = &[
    "title",
    "id",
    "status",
    "description",
    "references",
    "author",
    "tags",
    "logsource",
    "detection",
    "falsepositives",
    "level",
    "correlation",
    "action",
    "filter",
];

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
    let mut files = Vec::new();
    for path in &paths {
        println!("cargo:rerun-if-changed={}", path.display());
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        files.push(match yaml::documents(&text) {
            Ok(mut docs) => {
                // What the plugin never reads (`date`, `modified`, `fields`, ...) is left out:
                // less JSON to parse per batch.
                for doc in &mut docs {
                    if let Some(map) = doc.as_object_mut() {
                        map.retain(|k, _| USED_KEYS.contains(&k.as_str()));
                    }
                }
                serde_json::json!({"path": name, "docs": docs})
            }
            Err(e) => serde_json::json!({"path": name, "error": e}),
        });
    }
    let out = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("embedded.json");
    std::fs::write(&out, serde_json::Value::Array(files).to_string())
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", out.display()));
}
