//! Shared by the end-to-end tests: where the built components and the corpus are, and
//! how to make a pipeline over them.

use std::path::{Path, PathBuf};

use trailwarden::audit::AuditStore;
use trailwarden::config::{Config, PluginConfig};
use trailwarden::pipeline::Pipeline;
use trailwarden::state::StateStore;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub fn corpus(relative: &str) -> PathBuf {
    let path = repo().join("../shared/corpus").join(relative);
    assert!(
        path.exists(),
        "{} is missing: the tests need the shared corpus beside the repository",
        path.display()
    );
    path
}

/// A detection plugin built by `make plugins`.
pub fn plugin(name: &str) -> PathBuf {
    built(repo().join("plugins/dist").join(format!("{name}.wasm")))
}

/// A hostile test guest built by `make plugins`.
pub fn guest(name: &str) -> PathBuf {
    built(repo().join("target/guests").join(format!("{name}.wasm")))
}

fn built(path: PathBuf) -> PathBuf {
    assert!(
        path.is_file(),
        "{} is missing: run `make plugins` (or `make test`) first",
        path.display()
    );
    path
}

/// A plugin with default limits and no grants; its capability calls are denied rather than
/// its load refused (the grant checks have tests of their own).
pub fn plugin_config(path: PathBuf) -> PluginConfig {
    let mut config = PluginConfig::new(path);
    config.grants.ungranted_imports = trailwarden::respond::grants::UngrantedImports::Deny;
    config
}

/// A config over `plugins`, with its database and cache in `dir`.
pub fn config(dir: &Path, plugins: Vec<PluginConfig>) -> Config {
    Config {
        database: dir.join("audit.db"),
        cache_dir: dir.join("cache"),
        batch_size: 64,
        plugins,
        ..Config::default_in(dir).unwrap()
    }
}

pub fn pipeline(config: &Config) -> Pipeline {
    let audit = AuditStore::open(&config.database).unwrap();
    let state = StateStore::open(&config.database).unwrap();
    Pipeline::new(config, audit, state).unwrap()
}

/// The corpus records in their raw delivered forms, one JSON value each.
pub fn corpus_records() -> Vec<(String, serde_json::Value)> {
    let text = std::fs::read_to_string(corpus("records/records.jsonl")).unwrap();
    text.lines()
        .map(|line| {
            let mut entry: serde_json::Value = serde_json::from_str(line).unwrap();
            let form = entry["form"].as_str().unwrap().to_string();
            (form, entry["record"].take())
        })
        .collect()
}
