//! `trailwarden.toml`: what the admin configures, parsed in two stages (raw TOML, then
//! validated with paths resolved against the config file's folder).

use std::path::{Path, PathBuf};

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::daemon_settings::{IntakeSettings, RawDaemon, RawDedup, RawSqs};

pub use crate::notify::target::NotifyTarget;
use crate::notify::target::RawNotifyTarget;
use crate::respond::grants::{Grant, Mode, PluginGrants, UngrantedImports};

/// Defaults chosen to stop a runaway plugin quickly without starving a busy one.
pub use trailwarden_runtime::limits::{
    DEFAULT_CPU_DEADLINE_MS, DEFAULT_MAX_FINDINGS_PER_BATCH, DEFAULT_MEMORY_LIMIT_MB,
};
pub const DEFAULT_BATCH_SIZE: usize = 256;
/// Default `[engine] max_batch_bytes`: 4 MiB of record text per plugin call.
pub const DEFAULT_MAX_BATCH_BYTES: usize = 4 << 20;

/// The config in force: the one named, else ./trailwarden.toml, else the built-in default.
/// Every command that reads the config goes through here.
///
/// # Errors
/// The file named (or ./trailwarden.toml) cannot be read or is not a valid config.
pub fn load_config(path: Option<&Path>) -> Result<Config> {
    match path {
        Some(path) => Config::load(path),
        None if Path::new("trailwarden.toml").is_file() => {
            Config::load(Path::new("trailwarden.toml"))
        }
        None => Config::default_in(Path::new(".")),
    }
}

/// Default `[engine] workers`: one per core.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    audit: RawAudit,
    #[serde(default)]
    engine: RawEngine,
    #[serde(default)]
    plugins: Vec<RawPlugin>,
    /// Live ingest (`trailwarden run`): see `daemon_settings`.
    #[serde(default)]
    daemon: RawDaemon,
    sqs: Option<RawSqs>,
    #[serde(default)]
    dedup: RawDedup,
    #[serde(default)]
    aws: RawAws,
    /// Notification targets by name: plugins name a target, never a URL or secret.
    #[serde(default)]
    notify: BTreeMap<String, RawNotifyTarget>,
    /// EventBridge buses by name, for `eventbridge.publish-finding`.
    #[serde(default)]
    eventbridge: BTreeMap<String, EventBridgeTarget>,
    #[serde(default)]
    executor: ExecutorSettings,
    /// Where the daemon sends findings: see `sinks`.
    #[serde(default)]
    sinks: Vec<crate::sink_settings::RawSink>,
    /// Findings expected and silenced (see `suppress`).
    #[serde(default)]
    suppressions: Vec<crate::suppress::RawSuppression>,
    /// The web console's users (`trailwarden run` serves it): see `console::auth`; and its
    /// `public_url`, which notifications link to.
    #[serde(default)]
    console: crate::console_settings::RawConsole,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAws {
    endpoint_url: Option<String>,
    region: Option<String>,
    #[serde(default)]
    self_principals: Vec<String>,
    #[serde(default)]
    assume_role: BTreeMap<String, String>,
    platform_account: Option<String>,
    /// List the organisation's accounts (Organizations `ListAccounts`) at start and reload.
    #[serde(default)]
    discover_accounts: bool,
}

// The response settings are the `respond` module's: config builds them from the file.
pub use crate::respond::settings::{EventBridgeTarget, ExecutorSettings, ResponseSettings};

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
    max_batch_bytes: Option<usize>,
    workers: Option<usize>,
    quarantine_after: Option<u32>,
    rollback_after: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlugin {
    path: PathBuf,
    name: Option<String>,
    memory_limit_mb: Option<u64>,
    cpu_deadline_ms: Option<u64>,
    max_findings_per_batch: Option<usize>,
    max_findings_per_event: Option<usize>,
    max_calls_per_event: Option<u32>,
    max_output_bytes: Option<usize>,
    /// Keys the plugin's state may hold at once.
    state_max_keys: Option<u64>,
    /// Bytes (keys + values) the plugin's state may hold at once.
    state_max_bytes: Option<u64>,
    /// First-seen tuples the plugin's history may hold (the least recently seen are evicted).
    history_max_rows: Option<u64>,
    /// Accounts the plugin's history may have seen (past it, first-seen answers an error).
    history_max_accounts: Option<u64>,
    /// Keys the plugin's rate baselines may hold (the least recently seen are evicted).
    rate_max_keys: Option<u64>,
    /// Replaces the patterns the plugin asks for in `describe`.
    patterns: Option<Vec<serde_json::Value>>,
    #[serde(default = "enabled_by_default")]
    enabled: bool,
    /// Default mode of the plugin's grants.
    #[serde(default)]
    mode: Mode,
    #[serde(default)]
    ungranted_imports: UngrantedImports,
    #[serde(default)]
    grants: Vec<Grant>,
    /// Settings handed to the plugin through the `config` import.
    #[serde(default)]
    config: toml::Table,
    /// Files read into the plugin's config: key → a file, or a folder whose `*.yml`/`*.yaml`
    /// files are read in name order. The key's value becomes a list of
    /// `{"path", "text"}` (e.g. Sigma rules: the plugin has no file system).
    #[serde(default)]
    config_files: BTreeMap<String, PathBuf>,
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
    /// A batch is run once its events' record text reaches this many bytes, whatever its
    /// length: padded events cannot push a batch past a plugin's memory limit.
    pub max_batch_bytes: usize,
    /// Threads that run plugin batches; 1 runs them on the pipeline thread itself.
    pub workers: usize,
    pub plugins: Vec<PluginConfig>,
    /// Live ingest: the `[daemon]`, `[sqs]` and `[dedup]` tables.
    pub intake: IntakeSettings,
    pub response: ResponseSettings,
    pub lifecycle: Lifecycle,
    /// `[[sinks]]`: where the daemon sends findings.
    pub sinks: Vec<crate::sink_settings::SinkConfig>,
    /// `[console]`: who may log in to the web console, and how.
    pub console: crate::console_settings::ConsoleSettings,
}

pub use crate::plugin_config::PluginConfig;
/// What one plugin may consume: the sandbox's limits, filled in from `[plugins.limits]`.
pub use trailwarden_runtime::PluginLimits;

/// When a failing plugin is stopped, or a new version taken back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifecycle {
    /// Consecutive failed batches after which a plugin is quarantined (gets no events
    /// until a different version is loaded).
    pub quarantine_after: u32,
    /// Failed batches, among the first ten after a reload swapped a version in, after which
    /// the previous version is restored.
    pub rollback_after: u32,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle {
            quarantine_after: 5,
            rollback_after: 2,
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
        let mut raw: RawConfig = toml::from_str(text)?;
        let resolve = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };
        let batch_size = raw.engine.batch_size.unwrap_or(DEFAULT_BATCH_SIZE);
        if batch_size == 0 {
            bail!("engine.batch_size must be at least 1");
        }
        let max_batch_bytes = raw
            .engine
            .max_batch_bytes
            .unwrap_or(DEFAULT_MAX_BATCH_BYTES);
        if max_batch_bytes == 0 {
            bail!("engine.max_batch_bytes must be at least 1");
        }
        let workers = raw.engine.workers.unwrap_or_else(default_workers);
        if workers == 0 || workers > 256 {
            bail!("engine.workers must be between 1 and 256 (got {workers})");
        }
        let intake = IntakeSettings::from_raw(raw.daemon, raw.sqs, raw.dedup, &resolve)?;
        let console_url = public_url(raw.console.public_url.take())?;
        let console = crate::console_settings::ConsoleSettings::from_raw(raw.console)?;
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
            max_batch_bytes,
            workers,
            plugins,
            intake,
            console,
            lifecycle: Lifecycle {
                quarantine_after: raw
                    .engine
                    .quarantine_after
                    .unwrap_or(Lifecycle::default().quarantine_after)
                    .max(1),
                rollback_after: raw
                    .engine
                    .rollback_after
                    .unwrap_or(Lifecycle::default().rollback_after)
                    .max(1),
            },
            response: ResponseSettings {
                self_principals: own_principal_patterns(
                    &raw.aws.self_principals,
                    raw.aws.platform_account.as_deref(),
                    &raw.aws.assume_role,
                    raw.aws.discover_accounts,
                )?,
                self_principal_patterns: raw.aws.self_principals,
                discover_accounts: raw.aws.discover_accounts,
                endpoint_url: raw.aws.endpoint_url,
                region: raw.aws.region,
                assume_role: raw.aws.assume_role,
                platform_account: raw.aws.platform_account,
                notify: raw
                    .notify
                    .into_iter()
                    .map(|(name, target)| {
                        crate::notify::target::validate(&name, target, &resolve).map(|t| (name, t))
                    })
                    .collect::<Result<_>>()?,
                public_url: console_url,
                eventbridge: raw.eventbridge,
                executor: raw.executor,
                suppressions: raw
                    .suppressions
                    .into_iter()
                    .enumerate()
                    .map(|(index, raw)| raw.validate(index))
                    .collect::<Result<_>>()?,
            },
            sinks: crate::sink_settings::validate(raw.sinks)?,
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
                    grants: PluginGrants::dry_run_everything(),
                    ..PluginConfig::new(path)
                })
                .collect();
        }
        Ok(Config {
            database: dir.join("trailwarden.db"),
            cache_dir: dir.join(".trailwarden/cache"),
            batch_size: DEFAULT_BATCH_SIZE,
            max_batch_bytes: DEFAULT_MAX_BATCH_BYTES,
            workers: default_workers(),
            plugins,
            intake: IntakeSettings::default(),
            response: ResponseSettings::default(),
            lifecycle: Lifecycle::default(),
            sinks: Vec::new(),
            console: crate::console_settings::ConsoleSettings::default(),
        })
    }
}

/// `[console] public_url`: an http(s) URL, kept without its trailing slash.
fn public_url(url: Option<String>) -> Result<Option<String>> {
    let Some(url) = url else { return Ok(None) };
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        bail!("console.public_url must be an http:// or https:// URL");
    }
    Ok(Some(url.trim_end_matches('/').to_owned()))
}

fn validate_plugin(raw: RawPlugin, resolve: &dyn Fn(PathBuf) -> PathBuf) -> Result<PluginConfig> {
    let label = raw
        .name
        .clone()
        .unwrap_or_else(|| raw.path.display().to_string());
    let memory_limit_mb = raw.memory_limit_mb.unwrap_or(DEFAULT_MEMORY_LIMIT_MB);
    if !(1..=4096).contains(&memory_limit_mb) {
        bail!("plugin {label}: memory_limit_mb must be between 1 and 4096");
    }
    let cpu_deadline_ms = raw.cpu_deadline_ms.unwrap_or(DEFAULT_CPU_DEADLINE_MS);
    if !(10..=600_000).contains(&cpu_deadline_ms) {
        bail!("plugin {label}: cpu_deadline_ms must be between 10 and 600000");
    }
    let defaults = crate::state::StateQuota::default();
    let state_quota = crate::state::StateQuota {
        max_keys: raw.state_max_keys.unwrap_or(defaults.max_keys),
        max_bytes: raw.state_max_bytes.unwrap_or(defaults.max_bytes),
    };
    if state_quota.max_keys == 0 || state_quota.max_bytes == 0 {
        bail!("plugin {label}: state_max_keys and state_max_bytes must be at least 1");
    }
    let history_defaults = crate::history::HistoryQuota::default();
    let history_quota = crate::history::HistoryQuota {
        max_rows: raw.history_max_rows.unwrap_or(history_defaults.max_rows),
        max_accounts: raw
            .history_max_accounts
            .unwrap_or(history_defaults.max_accounts),
        max_rate_keys: raw.rate_max_keys.unwrap_or(history_defaults.max_rate_keys),
    };
    if history_quota.max_rows == 0
        || history_quota.max_accounts == 0
        || history_quota.max_rate_keys == 0
    {
        bail!(
            "plugin {label}: history_max_rows, history_max_accounts and rate_max_keys must be \
             at least 1"
        );
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
    let grants = PluginGrants {
        mode: raw.mode,
        ungranted_imports: raw.ungranted_imports,
        grants: raw.grants,
        dry_run_everything: false,
    };
    grants
        .validate()
        .map_err(|e| anyhow::anyhow!("plugin {label}: {e}"))?;
    let mut settings = match serde_json::to_value(&raw.config)? {
        serde_json::Value::Object(map) => map,
        _ => unreachable!("a TOML table is a JSON object"),
    };
    let config_files = read_config_files(&label, &raw.config_files, &mut settings, resolve)?;
    Ok(PluginConfig {
        path: resolve(raw.path),
        expected_name: raw.name,
        limits: PluginLimits {
            memory_bytes: memory_limit_mb * 1024 * 1024,
            cpu_deadline_ms,
            max_findings_per_batch: raw
                .max_findings_per_batch
                .unwrap_or(DEFAULT_MAX_FINDINGS_PER_BATCH),
            max_findings_per_event: raw
                .max_findings_per_event
                .unwrap_or(PluginLimits::default().max_findings_per_event),
            max_calls_per_event: raw
                .max_calls_per_event
                .unwrap_or(PluginLimits::default().max_calls_per_event),
            max_output_bytes: raw
                .max_output_bytes
                .unwrap_or(PluginLimits::default().max_output_bytes),
            state: state_quota,
            history: history_quota,
        },
        patterns_override,
        grants,
        settings_json: serde_json::to_string(&settings)?,
        config_files,
    })
}

/// `[aws] self_principals`, each pattern bound to trailwarden's own accounts.
///
/// A pattern names its account (`arn:aws:iam::111122223333:role/trailwarden-*`), or has a
/// wildcard there (`arn:aws:iam::*:role/trailwarden-*`), which stands for the accounts
/// trailwarden acts in (`[aws] platform_account` and the `[aws.assume_role]` accounts) and
/// nothing else: events are withheld from response plugins as "self-caused" by what they
/// claim, so a role of that name in any other account must not hide its activity. With
/// `accounts_to_come` (account discovery on), a wildcard that matches no account yet is
/// left out until the discovered accounts are known.
///
/// # Errors
/// A pattern is not an ARN pattern, its account is neither an account id nor a wildcard,
/// or it has a wildcard account and no own account is configured.
pub(crate) fn own_principal_patterns(
    patterns: &[String],
    platform_account: Option<&str>,
    assume_role: &BTreeMap<String, String>,
    accounts_to_come: bool,
) -> Result<Vec<String>> {
    let own: Vec<&str> = platform_account
        .into_iter()
        .chain(assume_role.keys().map(String::as_str))
        .collect();
    let is_account = |a: &str| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit());
    let mut bound = Vec::new();
    for pattern in patterns {
        let parts: Vec<&str> = pattern.splitn(6, ':').collect();
        if parts.len() != 6 || parts[0] != "arn" {
            bail!(
                "aws.self_principals {pattern:?} is not an ARN pattern \
                 (arn:aws:iam::ACCOUNT:role/NAME)"
            );
        }
        let account = parts[4];
        if is_account(account) {
            bound.push(pattern.clone());
        } else if account.contains(['*', '?']) {
            let matching: Vec<&&str> = own
                .iter()
                .filter(|a| crate::respond::grants::glob_match(account, a))
                .collect();
            if matching.is_empty() && accounts_to_come {
                // Expanded once the organisation's accounts are discovered.
                continue;
            }
            if matching.is_empty() {
                bail!(
                    "aws.self_principals {pattern:?}: a wildcard account stands for \
                     trailwarden's own accounts ([aws] platform_account, [aws.assume_role]), \
                     and none is configured{}; name the account instead",
                    if own.is_empty() { "" } else { " that matches" }
                );
            }
            for own_account in matching {
                let mut concrete = parts.clone();
                concrete[4] = own_account;
                bound.push(concrete.join(":"));
            }
        } else {
            bail!("aws.self_principals {pattern:?}: the account {account:?} is not an account id");
        }
    }
    Ok(bound)
}

/// The most a plugin's `config_files` may add to its config, all files together.
pub const MAX_CONFIG_FILES_BYTES: usize = 8 * 1024 * 1024;

/// The `*.yml`/`*.yaml` files of a `config_files` folder, in name order. Links are not
/// followed: one is refused with an error (a link to `/etc/passwd` dropped into a rules
/// folder must not hand that file to a plugin), as is anything else that is not a regular
/// file (a FIFO would block the read).
fn rule_files_in(dir: &Path, what: &str) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("{what}: cannot read {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("{what}: cannot read {}", dir.display()))?;
        let path = entry.path();
        if !path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            continue;
        }
        // The entry's own type: `DirEntry::file_type` does not follow links.
        let kind = entry
            .file_type()
            .with_context(|| format!("{what}: cannot read {}", path.display()))?;
        if kind.is_symlink() {
            bail!(
                "{what}: {} is a symbolic link; links in config_files folders are not \
                 followed (copy the file in instead)",
                path.display()
            );
        }
        if kind.is_file() {
            found.push(path);
        } else if !kind.is_dir() {
            bail!("{what}: {} is not a regular file", path.display());
        }
    }
    found.sort();
    Ok(found)
}

/// Reads a text file of at most `limit` bytes: its size is checked before reading, and the
/// read itself stops past the limit (the file may grow, or not know its size, like
/// `/dev/zero`). A folder entry swapped for a link between listing and opening is refused.
fn read_bounded(file: &Path, limit: usize, follow_link: bool, what: &str) -> Result<String> {
    use std::io::Read;
    use std::os::unix::fs::MetadataExt;
    let too_large = || {
        anyhow::anyhow!(
            "{what}: {}: config_files may add at most {} MiB to a plugin's config",
            file.display(),
            MAX_CONFIG_FILES_BYTES / (1024 * 1024)
        )
    };
    let cannot_read = || format!("{what}: cannot read {}", file.display());
    let listed = if follow_link {
        std::fs::metadata(file)
    } else {
        std::fs::symlink_metadata(file)
    }
    .with_context(cannot_read)?;
    if !listed.is_file() {
        bail!("{what}: {} is not a regular file", file.display());
    }
    if listed.len() > limit as u64 {
        return Err(too_large());
    }
    let opened = std::fs::File::open(file).with_context(cannot_read)?;
    let meta = opened.metadata().with_context(cannot_read)?;
    if (meta.dev(), meta.ino()) != (listed.dev(), listed.ino()) || !meta.is_file() {
        bail!("{what}: {} changed while being read", file.display());
    }
    let mut bytes = Vec::new();
    opened
        .take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(cannot_read)?;
    if bytes.len() > limit {
        return Err(too_large());
    }
    String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{}: not UTF-8 text", cannot_read()))
}

/// Reads `config_files` into `settings` (see [`RawPlugin::config_files`]); returns the files
/// read.
fn read_config_files(
    label: &str,
    files: &BTreeMap<String, PathBuf>,
    settings: &mut serde_json::Map<String, serde_json::Value>,
    resolve: &dyn Fn(PathBuf) -> PathBuf,
) -> Result<Vec<PathBuf>> {
    let mut read = Vec::new();
    let mut total = 0usize;
    for (key, path) in files {
        if settings.contains_key(key) {
            bail!("plugin {label}: `{key}` is both in config and in config_files");
        }
        let path = resolve(path.clone());
        let what = format!("plugin {label}: config_files.{key}");
        let mut paths = if path.is_dir() {
            // The folder too: its modification time changes when a file is added or removed.
            read.push(path.clone());
            rule_files_in(&path, &what)?
        } else {
            vec![path.clone()]
        };
        if paths.is_empty() {
            bail!("{what}: no *.yml or *.yaml file in {}", path.display());
        }
        // The admin named this path, which may be a link; a folder's entries may not be.
        let named_file = paths.len() == 1 && paths[0] == path;
        let mut entries = Vec::new();
        for file in paths.drain(..) {
            let left = MAX_CONFIG_FILES_BYTES - total;
            let text = read_bounded(&file, left, named_file, &what)?;
            total += text.len();
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            entries.push(serde_json::json!({ "path": name, "text": text }));
            read.push(file);
        }
        settings.insert(key.clone(), serde_json::Value::Array(entries));
    }
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_quotas_are_read_and_zero_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let text = "[[plugins]]\npath = \"p.wasm\"\nhistory_max_rows = 500\n";
        let config = Config::parse(text, dir.path()).unwrap();
        let history = config.plugins[0].limits.history;
        assert_eq!(history.max_rows, 500);
        assert_eq!(history.max_accounts, crate::history::DEFAULT_MAX_ACCOUNTS);
        let zero = text.replace("history_max_rows = 500", "history_max_accounts = 0");
        let error = Config::parse(&zero, dir.path()).unwrap_err().to_string();
        assert!(error.contains("history_max_accounts"), "{error}");
        let keys = text.replace("history_max_rows = 500", "rate_max_keys = 7");
        let config = Config::parse(&keys, dir.path()).unwrap();
        assert_eq!(config.plugins[0].limits.history.max_rate_keys, 7);
        let zero = text.replace("history_max_rows = 500", "rate_max_keys = 0");
        let error = Config::parse(&zero, dir.path()).unwrap_err().to_string();
        assert!(error.contains("rate_max_keys"), "{error}");
    }

    #[test]
    fn suppressions_are_read_and_a_moving_until_or_unknown_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let text = "[[suppressions]]\nrule = \"r-*\"\nsource_ip = \"10.0.0.0/8\"\n\
                    until = \"2030-01-01\"\nreason = \"known\"\n";
        let config = Config::parse(text, dir.path()).unwrap();
        let suppression = &config.response.suppressions[0];
        assert_eq!(suppression.id, "config:1");
        assert_eq!(suppression.conditions.until, Some(1_893_456_000));
        let moving = text.replace("2030-01-01", "30d");
        let error = format!("{:#}", Config::parse(&moving, dir.path()).unwrap_err());
        assert!(error.contains("duration"), "{error}");
        let unknown = format!("{text}typo = 1\n");
        assert!(Config::parse(&unknown, dir.path()).is_err());
    }

    #[test]
    fn config_files_are_read_into_the_plugin_config_and_watched() {
        let dir = tempfile::tempdir().unwrap();
        let rules = dir.path().join("rules");
        std::fs::create_dir(&rules).unwrap();
        std::fs::write(rules.join("b.yml"), "title: b").unwrap();
        std::fs::write(rules.join("a.yaml"), "title: a").unwrap();
        std::fs::write(rules.join("README.md"), "not a rule").unwrap();
        let text = r#"
            [[plugins]]
            path = "p.wasm"
            config_files = { rules = "rules" }
            [plugins.config]
            threshold = 3
        "#;
        let config = Config::parse(text, dir.path()).unwrap();
        let plugin = &config.plugins[0];
        let settings: serde_json::Value = serde_json::from_str(&plugin.settings_json).unwrap();
        assert_eq!(settings["threshold"], 3);
        assert_eq!(
            settings["rules"],
            serde_json::json!([
                {"path": "a.yaml", "text": "title: a"},
                {"path": "b.yml", "text": "title: b"}
            ])
        );
        assert_eq!(
            plugin.config_files,
            vec![rules.clone(), rules.join("a.yaml"), rules.join("b.yml")]
        );

        let clash = text.replace("threshold = 3", "rules = []");
        let error = Config::parse(&clash, dir.path()).unwrap_err().to_string();
        assert!(
            error.contains("both in config and in config_files"),
            "{error}"
        );
        let missing = text.replace("\"rules\" }", "\"nowhere\" }");
        let error = format!("{:#}", Config::parse(&missing, dir.path()).unwrap_err());
        assert!(
            error.contains("cannot read") && error.contains("nowhere"),
            "{error}"
        );
    }

    #[test]
    fn config_files_folders_refuse_links_and_the_size_cap_is_checked_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        let rules = dir.path().join("rules");
        std::fs::create_dir(&rules).unwrap();
        std::fs::write(rules.join("a.yml"), "title: a").unwrap();
        let text = "[[plugins]]\npath = \"p.wasm\"\nconfig_files = { rules = \"rules\" }\n";
        assert!(Config::parse(text, dir.path()).is_ok());

        // A link to /etc/passwd dropped into the folder: refused, naming it.
        std::os::unix::fs::symlink("/etc/passwd", rules.join("passwd.yml")).unwrap();
        let error = format!("{:#}", Config::parse(text, dir.path()).unwrap_err());
        assert!(
            error.contains("passwd.yml") && error.contains("symbolic link"),
            "{error}"
        );
        std::fs::remove_file(rules.join("passwd.yml")).unwrap();

        // A 64 GiB (sparse) file: refused by its size, before any read.
        let huge = std::fs::File::create(rules.join("huge.yml")).unwrap();
        huge.set_len(64 << 30).unwrap();
        let started = std::time::Instant::now();
        let error = format!("{:#}", Config::parse(text, dir.path()).unwrap_err());
        assert!(error.contains("at most 8 MiB"), "{error}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        std::fs::remove_file(rules.join("huge.yml")).unwrap();

        // A device that never ends (or a FIFO that would block): not a regular file.
        let zero = "[[plugins]]\npath = \"p.wasm\"\nconfig_files = { rules = \"/dev/zero\" }\n";
        let error = format!("{:#}", Config::parse(zero, dir.path()).unwrap_err());
        assert!(error.contains("not a regular file"), "{error}");
        // A named link to a file is the admin's choice and is followed.
        let elsewhere = dir.path().join("elsewhere.yml");
        std::fs::write(&elsewhere, "title: e").unwrap();
        std::os::unix::fs::symlink(&elsewhere, dir.path().join("named.yml")).unwrap();
        let named = "[[plugins]]\npath = \"p.wasm\"\nconfig_files = { rules = \"named.yml\" }\n";
        let config = Config::parse(named, dir.path()).unwrap();
        assert!(config.plugins[0].settings_json.contains("title: e"));
    }

    #[test]
    fn self_principals_with_a_wildcard_account_mean_our_own_accounts_only() {
        let parse = |aws: &str| {
            Config::parse(&format!("[aws]\n{aws}\n"), Path::new("."))
                .map(|c| c.response.self_principals)
        };
        let wildcard = "self_principals = [\"arn:aws:iam::*:role/trailwarden-*\"]";
        let bound = parse(&format!(
            "{wildcard}\nplatform_account = \"111122223333\"\n\
             [aws.assume_role]\n\"222233334444\" = \"arn:aws:iam::222233334444:role/tw\""
        ))
        .unwrap();
        assert_eq!(
            bound,
            [
                "arn:aws:iam::111122223333:role/trailwarden-*",
                "arn:aws:iam::222233334444:role/trailwarden-*"
            ]
        );
        let error = format!("{:#}", parse(wildcard).unwrap_err());
        assert!(error.contains("name the account"), "{error}");
        let named = "self_principals = [\"arn:aws:iam::333344445555:role/tw\"]";
        assert_eq!(parse(named).unwrap(), ["arn:aws:iam::333344445555:role/tw"]);
        for bad in ["*", "arn:aws:*", "arn:aws:iam::all:role/x"] {
            let text =
                format!("self_principals = [\"{bad}\"]\nplatform_account = \"111122223333\"");
            assert!(parse(&text).is_err(), "{bad}");
        }
    }

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
        let err = Config::parse(
            "[[plugins]]\npath = \"p.wasm\"\nmemroy = 1\n",
            Path::new("."),
        )
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
    fn grants_default_to_dry_run_and_unknown_capabilities_are_refused() {
        let config = Config::parse(
            r#"
            [[plugins]]
            path = "p.wasm"
            [plugins.config]
            notify_target = "chat"
            [[plugins.grants]]
            capability = "iam.disable-access-key"
            accounts = ["111122223333"]
            "#,
            Path::new("."),
        )
        .unwrap();
        let plugin = &config.plugins[0];
        assert_eq!(plugin.grants.mode, Mode::DryRun);
        assert_eq!(plugin.grants.grants[0].max_per_hour, 10);
        assert_eq!(plugin.settings_json, r#"{"notify_target":"chat"}"#);
        let err = Config::parse(
            "[[plugins]]\npath = \"p.wasm\"\n[[plugins.grants]]\ncapability = \"iam.nuke\"\naccounts = [\"*\"]\n",
            Path::new("."),
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("unknown capability"), "{err:#}");
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
