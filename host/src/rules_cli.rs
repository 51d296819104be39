//! `trailwarden rules list`: every detection of every configured plugin, from the rule
//! catalogs the plugins export (contract 0.3.0), with the response each one calls and the
//! mode its grant gives that response in this configuration.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use crate::output::Format;
use crate::respond::grants::{PluginGrants, UngrantedImports};
use crate::runtime::{HostStores, PluginRuntime, RuleInfo};

pub use crate::rule_row::RuleRow;

/// A plugin whose catalog could not be listed.
pub struct Missing {
    pub plugin: String,
    pub why: String,
}

/// Runs `rules list`.
///
/// # Errors
/// The config is invalid, or the output cannot be written.
pub fn list(config: Option<PathBuf>, format: Format) -> Result<ExitCode> {
    let config = crate::config::load_config(config.as_deref())?;
    let (rows, missing) = catalog(&config)?;
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
        Format::Table => print_table(&rows, &missing),
    }
    for m in &missing {
        eprintln!("warning: plugin {}: {}", m.plugin, m.why);
    }
    Ok(ExitCode::SUCCESS)
}

/// Every rule of every configured plugin (loaded as `rules list` and `report` need them:
/// no capability is called), and the plugins whose catalog could not be read.
///
/// # Errors
/// The runtime cannot be created.
pub fn catalog(config: &crate::config::Config) -> Result<(Vec<RuleRow>, Vec<Missing>)> {
    let runtime = PluginRuntime::new(&config.cache_dir, HostStores::in_memory()?)?;
    let mut rows = Vec::new();
    let mut missing = Vec::new();
    for plugin_config in &config.plugins {
        let mut plugin_config = plugin_config.clone();
        // Listing calls no capability; a plugin with ungranted imports still lists.
        plugin_config.grants.ungranted_imports = UngrantedImports::Deny;
        let label = plugin_config
            .expected_name
            .clone()
            .unwrap_or_else(|| plugin_config.path.display().to_string());
        match runtime.load(&plugin_config) {
            Ok(plugin) => match &plugin.rules {
                Some(rules) => rows.extend(
                    rules
                        .iter()
                        .map(|rule| row(&plugin.name, &plugin_config.grants, rule)),
                ),
                None => missing.push(Missing {
                    plugin: plugin.name.to_string(),
                    why: format!(
                        "contract {} has no rule catalog (0.3.0 adds it)",
                        plugin.contract_version()
                    ),
                }),
            },
            Err(e) => missing.push(Missing {
                plugin: label,
                why: format!("cannot load: {e:#}"),
            }),
        }
    }
    Ok((rows, missing))
}

fn row(plugin: &str, grants: &PluginGrants, rule: &RuleInfo) -> RuleRow {
    let response = if rule.response.is_empty() {
        "report only".to_string()
    } else {
        rule.response
            .iter()
            .map(|capability| match grants.mode_of(capability) {
                Some(mode) => format!("{capability} ({})", mode.as_str()),
                None => format!("{capability} (not granted)"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    RuleRow {
        id: rule.id.clone(),
        plugin: plugin.to_string(),
        severity: rule.severity.as_str().to_string(),
        technique: rule.techniques.join(", "),
        response,
        title: rule.title.clone(),
        panther: crate::rule_refs::panther_rules(plugin, &rule.id),
        cis: crate::rule_refs::cis_controls(&rule.id),
        status: if rule.refused.is_some() {
            "refused"
        } else {
            "active"
        },
        reason: rule.refused.clone(),
    }
}

fn print_table(rows: &[RuleRow], missing: &[Missing]) {
    let width =
        |f: fn(&RuleRow) -> usize, min: usize| rows.iter().map(f).max().unwrap_or(0).max(min);
    let id_w = width(|r| r.id.len(), 2);
    let plugin_w = width(|r| r.plugin.len(), 6);
    let technique_w = width(|r| r.technique.len(), 9);
    println!(
        "{:<id_w$}  {:<plugin_w$}  {:<8}  {:<technique_w$}  RESPONSE",
        "ID", "PLUGIN", "SEVERITY", "TECHNIQUE"
    );
    for r in rows.iter().filter(|r| r.reason.is_none()) {
        println!(
            "{:<id_w$}  {:<plugin_w$}  {:<8}  {:<technique_w$}  {}",
            r.id, r.plugin, r.severity, r.technique, r.response
        );
    }
    let refused: Vec<&RuleRow> = rows.iter().filter(|r| r.reason.is_some()).collect();
    let active = rows.len() - refused.len();
    let mut plugins: Vec<&str> = rows.iter().map(|r| r.plugin.as_str()).collect();
    plugins.sort_unstable();
    plugins.dedup();
    println!(
        "\n{active} rules active in {} plugins; {} refused{}",
        plugins.len(),
        refused.len(),
        if missing.is_empty() {
            String::new()
        } else {
            format!("; {} plugins without a catalog", missing.len())
        }
    );
    if !refused.is_empty() {
        println!("\nrefused (never fire):");
        for r in refused {
            println!(
                "  {} ({}): {}",
                r.id,
                r.plugin,
                r.reason.as_deref().unwrap_or_default()
            );
        }
    }
}
