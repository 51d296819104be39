//! What building a plugin needs, built into the binary, so that an installed `trailwarden`
//! scaffolds and builds plugins with no checkout at hand: the build scripts, the WIT
//! contract, and the Rust plugin SDK (vendored into each Rust scaffold outside a checkout).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// A file of the checkout: its path from the checkout's root, and its text.
type EmbeddedFile = (&'static str, &'static str);

macro_rules! embedded {
    ($($file:literal),* $(,)?) => {
        &[$(($file, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../", $file)))),*]
    };
}

/// The build scripts and the contract they compile against (`plugins/build-plugin.sh` and
/// the per-language scripts it runs look for `wit/` two folders up from themselves).
const BUILD_FILES: &[EmbeddedFile] = embedded!(
    "plugins/build-plugin.sh",
    "plugins/python/build.sh",
    "plugins/js/build.sh",
    "wit/0.2.0/plugin.wit",
    "wit/0.3.0/plugin.wit",
    "wit/0.4.0/plugin.wit",
    "wit/0.5.0/plugin.wit",
    "wit/0.6.0/plugin.wit",
);

/// The link `wit/0.3.0/deps/plugin-0.2.0 -> ../../0.2.0`, written out as a copy.
const WIT_0_2_0_IN_0_3_0: &str = "wit/0.3.0/deps/plugin-0.2.0/plugin.wit";
/// The links of `wit/0.4.0/deps/` (to 0.3.0 and 0.2.0: a package's deps are all in its own
/// `deps/`, flat), written out as copies.
const WIT_0_3_0_IN_0_4_0: &str = "wit/0.4.0/deps/plugin-0.3.0/plugin.wit";
const WIT_0_2_0_IN_0_4_0: &str = "wit/0.4.0/deps/plugin-0.2.0/plugin.wit";
/// The links of `wit/0.5.0/deps/` (to 0.4.0, 0.3.0 and 0.2.0), written out as copies.
const WIT_DEPS_OF_0_5_0: [(&str, &str); 3] = [
    ("wit/0.5.0/deps/plugin-0.4.0/plugin.wit", "0.4.0"),
    ("wit/0.5.0/deps/plugin-0.3.0/plugin.wit", "0.3.0"),
    ("wit/0.5.0/deps/plugin-0.2.0/plugin.wit", "0.2.0"),
];
/// The links of `wit/0.6.0/deps/` (to 0.5.0 .. 0.2.0), written out as copies.
const WIT_DEPS_OF_0_6_0: [(&str, &str); 4] = [
    ("wit/0.6.0/deps/plugin-0.5.0/plugin.wit", "0.5.0"),
    ("wit/0.6.0/deps/plugin-0.4.0/plugin.wit", "0.4.0"),
    ("wit/0.6.0/deps/plugin-0.3.0/plugin.wit", "0.3.0"),
    ("wit/0.6.0/deps/plugin-0.2.0/plugin.wit", "0.2.0"),
];

/// The Rust plugin SDK's sources (a unit test checks that none is missing).
const SDK_SOURCES: &[EmbeddedFile] = embedded!(
    "plugins/sdk/src/baseline.rs",
    "plugins/sdk/src/baseline_host.rs",
    "plugins/sdk/src/batch.rs",
    "plugins/sdk/src/capability.rs",
    "plugins/sdk/src/component.rs",
    "plugins/sdk/src/config.rs",
    "plugins/sdk/src/history.rs",
    "plugins/sdk/src/json.rs",
    "plugins/sdk/src/lib.rs",
    "plugins/sdk/src/log.rs",
    "plugins/sdk/src/notify_window.rs",
    "plugins/sdk/src/policy.rs",
    "plugins/sdk/src/state.rs",
    "plugins/sdk/src/testing.rs",
    "plugins/sdk/src/types.rs",
);
const SDK_MANIFEST: &str = include_str!("../../plugins/sdk/Cargo.toml");
/// The crates the SDK's native tests use (the fixture format and meaning the host uses, and
/// what it needs: the normaliser and the pattern matcher), vendored beside it in `deps/`:
/// each crate's folder, manifest and sources (a unit test checks that none is missing).
const SDK_DEPS: &[(&str, &str, &[EmbeddedFile])] = &[
    (
        "fixture-spec",
        include_str!("../../crates/fixture-spec/Cargo.toml"),
        embedded!(
            "crates/fixture-spec/src/events.rs",
            "crates/fixture-spec/src/format.rs",
            "crates/fixture-spec/src/lib.rs",
            "crates/fixture-spec/src/matching.rs",
        ),
    ),
    (
        "cloudtrail-normalize",
        include_str!("../../crates/cloudtrail-normalize/Cargo.toml"),
        embedded!(
            "crates/cloudtrail-normalize/src/coerce.rs",
            "crates/cloudtrail-normalize/src/envelope.rs",
            "crates/cloudtrail-normalize/src/event.rs",
            "crates/cloudtrail-normalize/src/id.rs",
            "crates/cloudtrail-normalize/src/input.rs",
            "crates/cloudtrail-normalize/src/lib.rs",
            "crates/cloudtrail-normalize/src/raw.rs",
            "crates/cloudtrail-normalize/src/reasons.rs",
            "crates/cloudtrail-normalize/src/record.rs",
            "crates/cloudtrail-normalize/src/shape.rs",
            "crates/cloudtrail-normalize/src/signal.rs",
            "crates/cloudtrail-normalize/src/walk.rs",
        ),
    ),
    (
        "event-pattern",
        include_str!("../../crates/event-pattern/Cargo.toml"),
        embedded!(
            "crates/event-pattern/src/cidr.rs",
            "crates/event-pattern/src/error.rs",
            "crates/event-pattern/src/flatten.rs",
            "crates/event-pattern/src/hash.rs",
            "crates/event-pattern/src/index.rs",
            "crates/event-pattern/src/lib.rs",
            "crates/event-pattern/src/matcher.rs",
            "crates/event-pattern/src/parse.rs",
            "crates/event-pattern/src/value.rs",
            "crates/event-pattern/src/wildcard.rs",
        ),
    ),
];
const ROOT_WORKSPACE: &str = include_str!("../../Cargo.toml");
/// Where the SDK's manifest finds `fixture-spec`, in the checkout and in a vendored copy.
const FIXTURE_SPEC_IN_CHECKOUT: &str = "../../crates/fixture-spec";
const FIXTURE_SPEC_VENDORED: &str = "deps/fixture-spec";
const PLUGINS_WORKSPACE: &str = include_str!("../../plugins/Cargo.toml");
/// The dependency versions the shipped plugins are built and tested with.
pub const PLUGINS_LOCK: &str = include_str!("../../plugins/Cargo.lock");

/// Where the SDK's bindings find the WIT, in the checkout and in a vendored copy.
const SDK_WIT_IN_CHECKOUT: &str = "path: \"../../wit/0.6.0\"";
const SDK_WIT_VENDORED: &str = "path: \"wit/0.6.0\"";

/// The embedded text of `wit/<version>/plugin.wit`.
fn wit(version: &str) -> &'static str {
    let path = format!("wit/{version}/plugin.wit");
    BUILD_FILES
        .iter()
        .find(|(embedded, _)| *embedded == path)
        .map(|(_, text)| *text)
        .unwrap_or_else(|| panic!("{path} is embedded"))
}

fn wit_0_2_0() -> &'static str {
    wit("0.2.0")
}

fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder)
            .with_context(|| format!("cannot create {}", folder.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// A scratch folder laid out like a checkout (build scripts and WIT), removed on drop.
pub struct BuildKit {
    root: PathBuf,
}

impl BuildKit {
    /// Writes the build scripts and the WIT into a new private folder under the temp dir.
    ///
    /// # Errors
    /// The folder or a file cannot be written.
    pub fn unpack() -> Result<BuildKit> {
        let root = std::env::temp_dir().join(format!(
            "trailwarden-buildkit-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        // create_dir (not _all): never a folder someone else made.
        std::fs::create_dir(&root).with_context(|| format!("cannot create {}", root.display()))?;
        let kit = BuildKit { root };
        // Only we may change the scripts we are about to run.
        std::fs::set_permissions(&kit.root, std::fs::Permissions::from_mode(0o700))?;
        for (path, text) in BUILD_FILES {
            let file = kit.root.join(path);
            write(&file, text)?;
            if path.ends_with(".sh") {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o700))?;
            }
        }
        write(&kit.root.join(WIT_0_2_0_IN_0_3_0), wit_0_2_0())?;
        write(&kit.root.join(WIT_0_3_0_IN_0_4_0), wit("0.3.0"))?;
        write(&kit.root.join(WIT_0_2_0_IN_0_4_0), wit_0_2_0())?;
        for (path, version) in WIT_DEPS_OF_0_5_0.iter().chain(&WIT_DEPS_OF_0_6_0) {
            write(&kit.root.join(path), wit(version))?;
        }
        Ok(kit)
    }

    /// The folder to use as the checkout's root.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl Drop for BuildKit {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Writes the Rust plugin SDK into `dest` (a plugin's `sdk/` folder): its sources, its WIT,
/// and a manifest that stands alone (the workspace's inherited keys written out).
///
/// # Errors
/// A file cannot be written, or the embedded manifests cannot be read (a build defect).
pub fn vendor_sdk(dest: &Path) -> Result<()> {
    for (path, text) in SDK_SOURCES {
        let relative = path.strip_prefix("plugins/sdk/").unwrap_or(path);
        let text = if relative == "src/component.rs" {
            anyhow::ensure!(
                text.contains(SDK_WIT_IN_CHECKOUT),
                "the SDK's bindings no longer read {SDK_WIT_IN_CHECKOUT}: update toolkit.rs"
            );
            text.replace(SDK_WIT_IN_CHECKOUT, SDK_WIT_VENDORED)
        } else {
            (*text).to_string()
        };
        write(&dest.join(relative), &text)?;
    }
    write(&dest.join("Cargo.toml"), &standalone_sdk_manifest()?)?;
    for (name, manifest, sources) in SDK_DEPS {
        let folder = dest.join("deps").join(name);
        for (path, text) in *sources {
            let relative = path
                .strip_prefix(&format!("crates/{name}/"))
                .unwrap_or(path);
            write(&folder.join(relative), text)?;
        }
        write(
            &folder.join("Cargo.toml"),
            &standalone_dep_manifest(manifest)?,
        )?;
    }
    // The SDK binds 0.6.0, whose deps are all the versions before it, flat.
    write(&dest.join("wit/0.6.0/plugin.wit"), wit("0.6.0"))?;
    for (path, version) in WIT_DEPS_OF_0_6_0 {
        write(&dest.join(path), wit(version))?;
    }
    Ok(())
}

/// The SDK's manifest with every `key.workspace = true` replaced by the workspace's value.
fn standalone_sdk_manifest() -> Result<String> {
    anyhow::ensure!(
        SDK_MANIFEST.contains(FIXTURE_SPEC_IN_CHECKOUT),
        "the SDK no longer finds fixture-spec at {FIXTURE_SPEC_IN_CHECKOUT}: update toolkit.rs"
    );
    let manifest = SDK_MANIFEST.replace(FIXTURE_SPEC_IN_CHECKOUT, FIXTURE_SPEC_VENDORED);
    let sdk = standalone(&manifest, PLUGINS_WORKSPACE)?;
    Ok(format!(
        "# The trailwarden plugin SDK, vendored by `trailwarden plugin new` (version {}).\n{}",
        env!("CARGO_PKG_VERSION"),
        toml::to_string(&sdk)?
    ))
}

/// A vendored dependency's manifest with the root workspace's inherited keys written out,
/// and without what only its own tests and benchmarks need.
fn standalone_dep_manifest(manifest: &str) -> Result<String> {
    let mut krate = standalone(manifest, ROOT_WORKSPACE)?;
    for unused in ["dev-dependencies", "bench", "test"] {
        krate.remove(unused);
    }
    Ok(format!(
        "# Vendored with the trailwarden plugin SDK by `trailwarden plugin new` (version {}).\n{}",
        env!("CARGO_PKG_VERSION"),
        toml::to_string(&krate)?
    ))
}

/// `manifest` with every `key.workspace = true` (package keys, dependencies, target
/// dependencies) replaced by the value of the `workspace` manifest's `[workspace]`.
fn standalone(manifest: &str, workspace: &str) -> Result<toml::Table> {
    let workspace: toml::Table = workspace.parse().context("a workspace's Cargo.toml")?;
    let mut krate: toml::Table = manifest.parse().context("a vendored crate's Cargo.toml")?;
    let shared = workspace
        .get("workspace")
        .and_then(|w| w.as_table())
        .context("the workspace's Cargo.toml has no [workspace]")?;
    let empty = toml::Table::new();
    let table = |key: &str| shared.get(key).and_then(|t| t.as_table()).unwrap_or(&empty);
    if let Some(package) = krate.get_mut("package").and_then(|p| p.as_table_mut()) {
        inherit(package, table("package"), false)?;
    }
    if let Some(dependencies) = krate.get_mut("dependencies").and_then(|d| d.as_table_mut()) {
        inherit(dependencies, table("dependencies"), true)?;
    }
    if let Some(targets) = krate.get_mut("target").and_then(|t| t.as_table_mut()) {
        for (_, target) in targets.iter_mut() {
            if let Some(dependencies) = target
                .get_mut("dependencies")
                .and_then(|d| d.as_table_mut())
            {
                inherit(dependencies, table("dependencies"), true)?;
            }
        }
    }
    Ok(krate)
}

/// Replaces each `{ workspace = true, ... }` entry of `table` by the workspace's value
/// (for dependencies, with the entry's own `features` and `optional` kept).
fn inherit(table: &mut toml::Table, values: &toml::Table, dependency: bool) -> Result<()> {
    for (key, value) in table.iter_mut() {
        let Some(entry) = value.as_table() else {
            continue;
        };
        if entry.get("workspace").and_then(|w| w.as_bool()) != Some(true) {
            continue;
        }
        let mut inherited = values
            .get(key)
            .cloned()
            .with_context(|| format!("the workspace does not define {key}"))?;
        if dependency {
            if let toml::Value::String(version) = inherited {
                let mut t = toml::Table::new();
                t.insert("version".into(), toml::Value::String(version));
                inherited = toml::Value::Table(t);
            }
            if let Some(t) = inherited.as_table_mut() {
                for extra in ["features", "optional"] {
                    if let Some(v) = entry.get(extra) {
                        t.insert(extra.into(), v.clone());
                    }
                }
            }
        }
        *value = inherited;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every source file of plugins/sdk/src is embedded.
    #[test]
    fn the_embedded_sdk_matches_the_folder() {
        let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/sdk/src");
        let mut on_disk: Vec<String> = std::fs::read_dir(folder)
            .unwrap()
            .map(|e| {
                format!(
                    "plugins/sdk/src/{}",
                    e.unwrap().file_name().to_string_lossy()
                )
            })
            .collect();
        on_disk.sort();
        let embedded: Vec<String> = SDK_SOURCES.iter().map(|(p, _)| p.to_string()).collect();
        assert_eq!(
            embedded, on_disk,
            "update SDK_SOURCES in host/src/toolkit.rs"
        );
        for (name, _, sources) in SDK_DEPS {
            let folder =
                Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../crates/{name}/src"));
            let mut on_disk: Vec<String> = std::fs::read_dir(folder)
                .unwrap()
                .map(|e| {
                    format!(
                        "crates/{name}/src/{}",
                        e.unwrap().file_name().to_string_lossy()
                    )
                })
                .collect();
            on_disk.sort();
            let embedded: Vec<String> = sources.iter().map(|(p, _)| p.to_string()).collect();
            assert_eq!(embedded, on_disk, "update SDK_DEPS in host/src/toolkit.rs");
        }
    }

    #[test]
    fn the_vendored_manifest_stands_alone() {
        let text = standalone_sdk_manifest().unwrap();
        assert!(!text.contains("workspace"), "{text}");
        let manifest: toml::Table = text.parse().unwrap();
        assert_eq!(
            manifest["package"]["name"].as_str(),
            Some("trailwarden-plugin-sdk")
        );
        assert!(manifest["package"]["edition"].as_str().is_some(), "{text}");
        assert!(
            manifest["dependencies"]["serde_json"]["version"].is_str(),
            "{text}"
        );
    }
}
