//! `trailwarden plugin ...`: what a component is and wants, before anyone installs it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;

use crate::config::PluginConfig;
use crate::respond::grants::{UngrantedImports, CAPABILITIES};
use crate::runtime::{capability_family, PluginRuntime};
use crate::state::StateStore;

#[derive(Subcommand)]
pub enum PluginCommand {
    /// Print a component's imports and what the config grants it.
    Inspect {
        file: PathBuf,
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

/// Runs a `plugin` command.
///
/// # Errors
/// The component cannot be loaded (the reason is printed), or the config is invalid.
pub fn run(command: PluginCommand) -> Result<ExitCode> {
    match command {
        PluginCommand::Inspect { file, config } => inspect(file, config),
    }
}

fn inspect(file: PathBuf, config: Option<PathBuf>) -> Result<ExitCode> {
    let config = crate::cli::load_config(config.as_deref())?;
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
    let cache = tempfile_dir()?;
    let runtime = PluginRuntime::new(&cache, StateStore::in_memory()?)?;
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
    println!("  fixtures    {}", plugin.fixtures.len());
    println!("  imports");
    let mut refused = Vec::new();
    for import in &plugin.imports {
        let note = match capability_family(import) {
            Some(family) if plugin.grants.covers_family(family) => "granted".to_string(),
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
    if plugin.grants.grants.is_empty() {
        println!("    none");
    }
    for grant in &plugin.grants.grants {
        println!(
            "    {:<30} mode {} accounts {} regions {} resources {} max {}/h",
            grant.capability,
            grant.mode.unwrap_or(plugin.grants.mode).as_str(),
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

/// A private cache folder for one inspection.
fn tempfile_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("trailwarden-inspect-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
