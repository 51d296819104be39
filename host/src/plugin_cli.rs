//! `trailwarden plugin ...`: what a component is and wants, before anyone installs it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;

use crate::config::PluginConfig;
use crate::fixture::{self, Fixture};
use crate::respond::grants::{UngrantedImports, CAPABILITIES};
use crate::runtime::{capability_family, HostStores, PluginRuntime};

#[derive(Subcommand)]
pub enum PluginCommand {
    /// The configured plugins: version, contract, and whether each serves or is quarantined.
    List {
        /// Config file (default: ./trailwarden.toml, else every plugin in plugins/dist).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Lift a plugin's quarantine (every quarantined version of it), recorded with who and
    /// why; a running daemon serves it again from its next reload (SIGHUP or POST /v1/reload).
    Release {
        /// The plugin's name, as `plugin list` shows it.
        name: String,
        /// Config file whose audit database holds the quarantine.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Who lifts it (recorded).
        #[arg(long, default_value = "cli")]
        by: String,
        /// Why (recorded).
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Print a component's imports and what the config grants it.
    Inspect {
        /// The plugin component (a .wasm file).
        file: PathBuf,
        /// Config whose grants for this plugin are compared with its imports.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Create a plugin folder from a template (Rust, Python or JavaScript).
    New {
        /// Lowercase letters, digits and dashes, e.g. `my-rule`.
        name: String,
        /// The plugin's language.
        #[arg(long, value_enum)]
        lang: crate::scaffold::Lang,
        /// Create DIR/NAME (default: plugins/NAME, plugins/python/NAME or plugins/js/NAME
        /// of the checkout you are in, else of the current folder).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Templates folder with rust/, python/, js/ (default: the ones built into
        /// trailwarden, i.e. plugins/templates of its source).
        #[arg(long)]
        templates: Option<PathBuf>,
    },
    /// Build a plugin folder (Rust, Python or JavaScript) into a component.
    Build {
        /// The plugin folder (made by `plugin new`).
        dir: PathBuf,
        /// Output file (default: plugins/dist/NAME.wasm for a folder in the checkout's
        /// plugins/, else NAME.wasm here).
        #[arg(short, long)]
        out: Option<PathBuf>,
    },
}

/// `trailwarden test PLUGIN.wasm [FIXTURES...]`: runs a plugin against fixture files (or
/// folders of them; without any, the fixtures it ships), capabilities recorded and never
/// executed. Prints each fixture's result with a diff, and `N passed, M failed`.
///
/// # Errors
/// The plugin cannot be loaded or a fixture file cannot be read; failing fixtures are not
/// errors but a non-zero exit.
pub fn test(plugin: PathBuf, paths: Vec<PathBuf>, config: Option<PathBuf>) -> Result<ExitCode> {
    let (mut plugin_config, cache) = configured(&plugin, config.as_deref())?;
    plugin_config.grants.ungranted_imports = UngrantedImports::Deny;
    let load = || -> Result<(PluginRuntime, crate::runtime::LoadedPlugin)> {
        let runtime = PluginRuntime::new(&cache, HostStores::in_memory()?)?;
        let loaded = runtime.load(&plugin_config)?;
        Ok((runtime, loaded))
    };
    let (_, first) = load()?;
    let mut fixtures: Vec<(String, Fixture)> = Vec::new();
    let mut files = Vec::new();
    for path in &paths {
        if path.is_dir() {
            let mut inside: Vec<PathBuf> = std::fs::read_dir(path)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect();
            inside.sort();
            files.extend(inside);
        } else {
            files.push(path.clone());
        }
    }
    for file in files {
        fixtures.push((file.display().to_string(), fixture::load(&file)?));
    }
    if paths.is_empty() {
        for (i, text) in first.fixtures.iter().enumerate() {
            let fixture = fixture::parse(text)
                .map_err(|e| anyhow::anyhow!("shipped fixture #{i} is invalid: {e:#}"))?;
            fixtures.push((format!("shipped #{i}"), fixture));
        }
        anyhow::ensure!(
            !fixtures.is_empty(),
            "{} ships no fixtures; name fixture files",
            plugin.display()
        );
    }
    let (mut passed, mut failed) = (0, 0);
    for (origin, fixture) in &fixtures {
        // Each fixture starts from empty plugin state.
        let (runtime, loaded) = load()?;
        let outcome = fixture::run(&runtime, &loaded, fixture);
        if outcome.passed() {
            passed += 1;
            println!("fixture {} ... ok", outcome.name);
        } else {
            failed += 1;
            println!("fixture {} ({origin}) ... FAILED", outcome.name);
            for line in &outcome.differences {
                println!("    {line}");
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The plugin's entry in the config, or a plugin with nothing granted.
/// The plugin's entry in the config (or one with nothing granted), and the config's compile
/// cache, so a second run of a large Python or JS component loads in milliseconds.
fn configured(
    file: &std::path::Path,
    config: Option<&std::path::Path>,
) -> Result<(PluginConfig, PathBuf)> {
    let config = crate::config::load_config(config)?;
    let canonical = std::fs::canonicalize(file).unwrap_or(file.to_path_buf());
    let plugin = config
        .plugins
        .iter()
        .find(|p| std::fs::canonicalize(&p.path).ok().as_ref() == Some(&canonical))
        .cloned()
        .unwrap_or_else(|| PluginConfig::new(file.to_path_buf()));
    Ok((plugin, config.cache_dir))
}

/// Runs a `plugin` command.
///
/// # Errors
/// The component cannot be loaded (the reason is printed), or the config is invalid.
pub fn run(command: PluginCommand) -> Result<ExitCode> {
    match command {
        PluginCommand::List { config } => list(config),
        PluginCommand::Inspect { file, config } => inspect(file, config),
        PluginCommand::Release {
            name,
            config,
            by,
            reason,
        } => release(&name, config, &by, &reason),
        PluginCommand::New {
            name,
            lang,
            dir,
            templates,
        } => {
            let made =
                crate::scaffold::new_plugin(&name, lang, dir.as_deref(), templates.as_deref())?;
            for note in &made.notes {
                eprintln!("note: {note}");
            }
            println!(
                "created {} ({} plugin, {} files)",
                made.dir.display(),
                lang.as_str(),
                made.files
            );
            println!(
                "next: trailwarden plugin build {} -o {name}.wasm && trailwarden test {name}.wasm",
                made.dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Build { dir, out } => crate::scaffold::build_plugin(&dir, out.as_deref()),
    }
}

fn inspect(file: PathBuf, config: Option<PathBuf>) -> Result<ExitCode> {
    let config = crate::config::load_config(config.as_deref())?;
    let canonical = std::fs::canonicalize(&file).unwrap_or(file.clone());
    let configured = config
        .plugins
        .iter()
        .find(|p| std::fs::canonicalize(&p.path).ok().as_ref() == Some(&canonical))
        .cloned();
    let in_config = configured.is_some();
    let mut plugin_config = configured.unwrap_or_else(|| PluginConfig::new(file.clone()));
    // Inspecting must show everything even when the grants would refuse the load.
    let refuse = plugin_config.grants.ungranted_imports == UngrantedImports::Refuse;
    plugin_config.grants.ungranted_imports = UngrantedImports::Deny;
    let cache = config.cache_dir.clone();
    let runtime = PluginRuntime::new(&cache, HostStores::in_memory()?)?;
    let plugin = runtime.load(&plugin_config)?;
    println!(
        "{} {} (contract {})",
        plugin.name,
        plugin.version,
        plugin.contract_version()
    );
    println!("  file        {}", file.display());
    println!("  sha256      {}", plugin.sha256);
    println!("  patterns");
    for pattern in &plugin.patterns {
        println!("    {pattern}");
    }
    println!("  wants       {}", list_or_none(&plugin.capabilities));
    println!(
        "  batches     {}",
        if plugin.batches_independent() {
            "side by side (it imports nothing that outlives a batch: no state, history or capability)"
        } else {
            "one at a time, in event order (it imports state, history or a capability)"
        }
    );
    println!("  fixtures    {}", plugin.fixtures.len());
    println!("  imports");
    let mut refused = Vec::new();
    for import in &plugin.imports {
        let note = match capability_family(import) {
            Some(family) if plugin.config.grants.covers_family(family) => "granted".to_string(),
            Some(family) => {
                if refuse {
                    refused.push(import.clone());
                    format!("NOT GRANTED: no {family} grant, the load is refused")
                } else {
                    format!("not granted: every {family} call answers denied")
                }
            }
            None => String::new(),
        };
        println!("    {import:<48} {note}");
    }
    println!(
        "  grants{}",
        if in_config {
            ""
        } else {
            " (not in the config: nothing is granted)"
        }
    );
    if plugin.config.grants.grants.is_empty() {
        println!("    none");
    }
    for grant in &plugin.config.grants.grants {
        println!(
            "    {:<30} mode {} accounts {} regions {} resources {} max {}/h",
            grant.capability,
            grant.mode.unwrap_or(plugin.config.grants.mode).as_str(),
            grant.accounts.join(","),
            grant.regions.join(","),
            grant.resources.join(","),
            grant.max_per_hour
        );
    }
    let _ = CAPABILITIES;
    if refused.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "error: {} imports {} without a grant; the daemon would refuse to load it",
            file.display(),
            refused.join(", ")
        );
        Ok(ExitCode::from(3))
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

/// `trailwarden plugins`: each configured plugin, its version, and whether it serves or is
/// quarantined; then the latest lifecycle events (loads, refused reloads, quarantines,
/// rollbacks).
///
/// # Errors
/// The config is invalid or a plugin cannot be read.
pub fn list(config: Option<PathBuf>) -> Result<ExitCode> {
    let config = crate::config::load_config(config.as_deref())?;
    let audit = if config.database.is_file() {
        Some(crate::audit::AuditStore::open(&config.database)?)
    } else {
        None
    };
    let runtime = PluginRuntime::new(&config.cache_dir, HostStores::in_memory()?)?;
    println!(
        "{:<24} {:<10} {:<9} {:<14} {:<12} PATH",
        "PLUGIN", "VERSION", "CONTRACT", "SHA256", "STATE"
    );
    for plugin_config in &config.plugins {
        let mut plugin_config = plugin_config.clone();
        plugin_config.grants.ungranted_imports = UngrantedImports::Deny;
        match runtime.load(&plugin_config) {
            Ok(plugin) => {
                let quarantined = match &audit {
                    Some(audit) => audit.is_quarantined(&plugin.name, &plugin.sha256)?,
                    None => false,
                };
                println!(
                    "{:<24} {:<10} {:<9} {:<14} {:<12} {}",
                    plugin.name,
                    plugin.version,
                    plugin.contract_version(),
                    &plugin.sha256[..12],
                    if quarantined { "quarantined" } else { "active" },
                    plugin.path.display()
                );
            }
            Err(e) => println!(
                "{:<24} {:<10} {:<9} {:<14} {:<12} {} ({e:#})",
                "?",
                "?",
                "?",
                "?",
                "unloadable",
                plugin_config.path.display()
            ),
        }
    }
    if let Some(audit) = &audit {
        let events = audit.lifecycle(10)?;
        if !events.is_empty() {
            println!("\nrecent events");
            for e in events {
                println!(
                    "  {} {:<24} {:<14} {} {}",
                    e.at,
                    e.plugin,
                    e.event,
                    &e.sha256[..e.sha256.len().min(12)],
                    e.detail
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `plugin release NAME`: records `released` for every quarantined version of the plugin.
fn release(name: &str, config: Option<PathBuf>, by: &str, reason: &str) -> Result<ExitCode> {
    let config = crate::config::load_config(config.as_deref())?;
    let audit = crate::audit::AuditStore::open(&config.database)?;
    let versions = audit.quarantined_versions(name)?;
    if versions.is_empty() {
        eprintln!("{name} is not quarantined");
        return Ok(ExitCode::FAILURE);
    }
    let detail = format!("released by {by}: {reason}");
    for sha in &versions {
        audit.record_lifecycle(name, sha, "released", detail.trim_end_matches(": "))?;
        println!("released {name} {sha}");
    }
    println!("a running daemon serves it again from its next reload (SIGHUP or POST /v1/reload)");
    Ok(ExitCode::SUCCESS)
}
