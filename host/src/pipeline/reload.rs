//! Hot reload: compile and check a new plugin set off the serving path, then report what
//! the swap did. The swap itself is [`super::Pipeline::apply_reload`].

use std::sync::Arc;

use serde::Serialize;

use crate::config::{Config, PluginConfig, ResponseSettings};
use crate::runtime::{LoadedPlugin, PluginRuntime};

/// What a reload did, plugin by plugin.
#[derive(Debug, Default, Clone, Serialize)]
pub struct ReloadReport {
    pub unchanged: Vec<String>,
    pub swapped: Vec<String>,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// (plugin or path, reason): the old version, if any, keeps serving.
    pub refused: Vec<(String, String)>,
}

/// A new plugin set, compiled and checked, ready to swap in.
pub struct PreparedReload {
    pub(super) plugins: Vec<Arc<LoadedPlugin>>,
    pub(super) refused: Vec<(String, String)>,
    pub(super) settings: Arc<ResponseSettings>,
    pub(super) batch_size: usize,
    pub(super) max_batch_bytes: usize,
}

/// Compiles and checks a config's plugins without touching the serving ones; `Send`, so a
/// daemon can run it on another thread while the old versions keep serving.
pub struct ReloadPreparer {
    pub(super) runtime: Arc<PluginRuntime>,
    pub(super) current: Vec<Arc<LoadedPlugin>>,
}

impl ReloadPreparer {
    /// For each configured plugin: an unchanged one (same wasm, same config) is kept; a
    /// changed or new one is loaded (describe, import check against its grants) and its
    /// shipped fixtures must pass; a failure keeps the old version serving.
    pub fn prepare(&self, config: &Config) -> PreparedReload {
        let mut plugins = Vec::new();
        let mut refused = Vec::new();
        for plugin_config in &config.plugins {
            let current = self.current.iter().find(|p| p.config == *plugin_config);
            let wasm_sha = std::fs::read(&plugin_config.path)
                .ok()
                .map(|bytes| hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)));
            if let Some(current) = current.filter(|c| Some(&c.sha256) == wasm_sha.as_ref()) {
                plugins.push(current.clone());
                continue;
            }
            let label = plugin_config
                .expected_name
                .clone()
                .unwrap_or_else(|| plugin_config.path.display().to_string());
            let same_plugin = |p: &&Arc<LoadedPlugin>| {
                p.path == plugin_config.path
                    || plugin_config.expected_name.as_deref() == Some(&*p.name)
            };
            match self.load_and_check(plugin_config) {
                Ok(plugin) => plugins.push(Arc::new(plugin)),
                Err(reason) => {
                    refused.push((label, reason));
                    if let Some(old) = self.current.iter().find(same_plugin) {
                        plugins.push(old.clone());
                    }
                }
            }
        }
        PreparedReload {
            plugins,
            refused,
            settings: Arc::new(config.response.clone()),
            batch_size: config.batch_size,
            max_batch_bytes: config.max_batch_bytes,
        }
    }

    fn load_and_check(&self, config: &PluginConfig) -> Result<LoadedPlugin, String> {
        let plugin = self.runtime.load(config).map_err(|e| format!("{e:#}"))?;
        passes_own_fixtures(&self.runtime, &plugin)?;
        Ok(plugin)
    }
}

/// Runs a plugin's shipped fixtures, each on its own empty state (as the fixture runners
/// do: a plugin that remembers, a notify window or a burst counter, must not carry one
/// fixture's events into the next), with the plugin's defaults: the admin's thresholds may
/// rightly change what they raise. No input from outside reaches this check, so its verdict
/// is the plugin's own.
///
/// # Errors
/// The first fixture that fails, as text.
pub fn passes_own_fixtures(runtime: &PluginRuntime, plugin: &LoadedPlugin) -> Result<(), String> {
    for (i, text) in plugin.fixtures.iter().enumerate() {
        let canary = runtime.scratch().map_err(|e| format!("{e:#}"))?;
        let fixture = crate::fixture::parse(text)
            .map_err(|e| format!("shipped fixture #{i} is invalid: {e:#}"))?;
        let outcome = crate::fixture::run_with_config(&canary, plugin, &fixture, "{}");
        if !outcome.passed() {
            return Err(format!(
                "shipped fixture {:?} fails: {}",
                outcome.name,
                outcome.differences.join("; ")
            ));
        }
    }
    Ok(())
}
