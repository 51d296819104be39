//! `trailwarden.toml`: what the admin configures, parsed in two stages (raw TOML, then
//! validated with paths resolved against the config file's folder).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

/// Defaults chosen to stop a runaway plugin quickly without starving a busy one.
pub const DEFAULT_MEMORY_LIMIT_MB: u64 = 64;
pub const DEFAULT_CPU_DEADLINE_MS: u64 = 2_000;
pub const DEFAULT_BATCH_SIZE: usize = 256;
pub const DEFAULT_MAX_FINDINGS_PER_BATCH: usize = 10_000;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    audit: RawAudit,
    #[serde(default)]
    engine: RawEngine,
    #[serde(default)]
    plugins: Vec<RawPlugin>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAudit {
    database: Option<PathBuf>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawEngine {
    cache_dir: Option<PathBuf>,
    batch_size: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlugin {
    path: PathBuf,
    name: Option<String>,
    memory_limit_mb: Option<u64>,
    cpu_deadline_ms: Option<u64>,
    max_findings_per_batch: Option<usize>,
    /// Replaces the patterns the plugin asks for in `describe`.
    patterns: Option<Vec<serde_json::Value>>,
    #[serde(default = "enabled_by_default")]
    enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub database: PathBuf,
    pub cache_dir: PathBuf,
    pub batch_size: usize,
    pub plugins: Vec<PluginConfig>,
}

/// One plugin as the admin configured it.
#[derive(Debug, Clone)]
pub struct PluginConfig {
    pub path: PathBuf,
    /// The name the admin expects; loading fails if `describe` says otherwise.
    pub expected_name: Option<String>,
    pub limits: PluginLimits,
    /// Pattern JSON texts that replace the plugin's own subscriptions.
    pub patterns_override: Option<Vec<String>>,
}

/// What one plugin may consume per batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PluginLimits {
    pub memory_bytes: u64,
    pub cpu_deadline_ms: u64,
    pub max_findings_per_batch: usize,
}

impl Default for PluginLimits {
    fn default() -> Self {
        Self {
            memory_bytes: DEFAULT_MEMORY_LIMIT_MB * 1024 * 1024,
            cpu_deadline_ms: DEFAULT_CPU_DEADLINE_MS,
            max_findings_per_batch: DEFAULT_MAX_FINDINGS_PER_BATCH,
        }
    }
}

impl Config {
    /// Reads and validates a config file.
    ///
    /// # Errors
    /// The file cannot be read, is not valid TOML, has unknown keys, or a value is out of range.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config {}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, base).with_context(|| format!("invalid config {}", path.display()))
    }

    /// Parses config text; relative paths are taken from `base`.
    ///
    /// # Errors
    /// As for [`Config::load`].
    pub fn parse(text: &str, base: &Path) -> Result<Config> {
        let raw: RawConfig = toml::from_str(text)?;
        let resolve = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };
        let batch_size = raw.engine.batch_size.unwrap_or(DEFAULT_BATCH_SIZE);
        if batch_size == 0 {
            bail!("engine.batch_size must be at least 1");
        }
        let mut plugins = Vec::new();
        for plugin in raw.plugins.into_iter().filter(|p| p.enabled) {
            plugins.push(validate_plugin(plugin, &resolve)?);
        }
        Ok(Config {
            database: resolve(
                raw.audit
                    .database
                    .unwrap_or_else(|| PathBuf::from("trailwarden.db")),
            ),
            cache_dir: resolve(
                raw.engine
                    .cache_dir
                    .unwrap_or_else(|| PathBuf::from(".trailwarden/cache")),
            ),
            batch_size,
            plugins,
        })
    }

    /// The configuration used when none is given: every component in `plugins/dist`.
    ///
    /// # Errors
    /// `plugins/dist` cannot be listed.
    pub fn default_in(dir: &Path) -> Result<Config> {
        let dist = dir.join("plugins/dist");
        let mut plugins = Vec::new();
        if dist.is_dir() {
            let mut paths: Vec<PathBuf> = std::fs::read_dir(&dist)
                .with_context(|| format!("cannot list {}", dist.display()))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
                .collect();
            paths.sort();
            plugins = paths
                .into_iter()
                .map(|path| PluginConfig {
                    path,
                    expected_name: None,
                    limits: PluginLimits::default(),
                    patterns_override: None,
                })
                .collect();
        }
        Ok(Config {
            database: dir.join("trailwarden.db"),
            cache_dir: dir.join(".trailwarden/cache"),
            batch_size: DEFAULT_BATCH_SIZE,
            plugins,
        })
    }
}

fn validate_plugin(raw: RawPlugin, resolve: &dyn Fn(PathBuf) -> PathBuf) -> Result<PluginConfig> {
    let label = raw.name.clone().unwrap_or_else(|| raw.path.display().to_string());
    let memory_limit_mb = raw.memory_limit_mb.unwrap_or(DEFAULT_MEMORY_LIMIT_MB);
    if !(1..=4096).contains(&memory_limit_mb) {
        bail!("plugin {label}: memory_limit_mb must be between 1 and 4096");
    }
    let cpu_deadline_ms = raw.cpu_deadline_ms.unwrap_or(DEFAULT_CPU_DEADLINE_MS);
    if !(10..=600_000).contains(&cpu_deadline_ms) {
        bail!("plugin {label}: cpu_deadline_ms must be between 10 and 600000");
    }
    let patterns_override = match raw.patterns {
        None => None,
        Some(patterns) => {
            let mut texts = Vec::new();
            for pattern in patterns {
                // Patterns may be written as TOML tables or as JSON strings.
                let text = match pattern {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                event_pattern::Pattern::parse(&text)
                    .map_err(|e| anyhow::anyhow!("plugin {label}: invalid pattern {text}: {e}"))?;
                texts.push(text);
            }
            Some(texts)
        }
    };
    Ok(PluginConfig {
        path: resolve(raw.path),
        expected_name: raw.name,
        limits: PluginLimits {
            memory_bytes: memory_limit_mb * 1024 * 1024,
            cpu_deadline_ms,
            max_findings_per_batch: raw
                .max_findings_per_batch
                .unwrap_or(DEFAULT_MAX_FINDINGS_PER_BATCH),
        },
        patterns_override,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_resolve_against_the_config_folder() {
        let config = Config::parse(
            "[audit]\ndatabase = \"audit.db\"\n[[plugins]]\npath = \"p.wasm\"\n",
            Path::new("/etc/tw"),
        )
        .unwrap();
        assert_eq!(config.database, Path::new("/etc/tw/audit.db"));
        assert_eq!(config.plugins[0].path, Path::new("/etc/tw/p.wasm"));
        assert_eq!(config.plugins[0].limits, PluginLimits::default());
    }

    #[test]
    fn unknown_keys_and_bad_limits_are_refused() {
        let err = Config::parse("[[plugins]]\npath = \"p.wasm\"\nmemroy = 1\n", Path::new("."))
            .unwrap_err();
        assert!(format!("{err:#}").contains("unknown field"), "{err:#}");
        let err = Config::parse(
            "[[plugins]]\npath = \"p.wasm\"\nmemory_limit_mb = 0\n",
            Path::new("."),
        )
        .unwrap_err();
        assert!(err.to_string().contains("memory_limit_mb"), "{err}");
    }

    #[test]
    fn disabled_plugins_are_not_loaded() {
        let config = Config::parse(
            "[[plugins]]\npath = \"a.wasm\"\nenabled = false\n[[plugins]]\npath = \"b.wasm\"\n",
            Path::new("."),
        )
        .unwrap();
        assert_eq!(config.plugins.len(), 1);
    }
}
