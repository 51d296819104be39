//! One plugin's configuration, as the sandbox loads it: a module of its own (not in `config`,
//! which gathers every section of the file) so that what names a loaded plugin depends on
//! the plugin's settings and grants only.

use std::path::{Path, PathBuf};

use trailwarden_runtime::{PluginLimits, PluginSource};

use crate::respond::grants::{PluginGrants, UngrantedImports};

/// One plugin as the admin configured it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PluginConfig {
    pub path: PathBuf,
    /// The name the admin expects; loading fails if `describe` says otherwise.
    pub expected_name: Option<String>,
    pub limits: PluginLimits,
    /// Pattern JSON texts that replace the plugin's own subscriptions.
    pub patterns_override: Option<Vec<String>>,
    pub grants: PluginGrants,
    /// The plugin's `config` table as JSON object text, with its `config_files` read in.
    pub settings_json: String,
    /// The files read into `settings_json` (a change to one reloads the plugin).
    pub config_files: Vec<PathBuf>,
}

impl PluginConfig {
    /// A plugin at `path` with default limits and no grants.
    pub fn new(path: PathBuf) -> PluginConfig {
        PluginConfig {
            path,
            settings_json: "{}".to_string(),
            ..Default::default()
        }
    }
}

impl PluginSource for PluginConfig {
    fn path(&self) -> &Path {
        &self.path
    }

    fn expected_name(&self) -> Option<&str> {
        self.expected_name.as_deref()
    }

    fn limits(&self) -> PluginLimits {
        self.limits
    }

    fn patterns_override(&self) -> Option<&[String]> {
        self.patterns_override.as_deref()
    }

    fn settings_json(&self) -> &str {
        &self.settings_json
    }

    /// An import without any grant in its family is refused, unless the admin chose to let
    /// such calls be denied at run time.
    fn check_import(&self, import: &str, family: &str) -> anyhow::Result<()> {
        if !self.grants.covers_family(family)
            && self.grants.ungranted_imports == UngrantedImports::Refuse
        {
            anyhow::bail!(
                "{} imports {import} but holds no {family} grant: grant it in [[plugins.grants]], \
                 or set ungranted_imports = \"deny\" to load it with every {family} call denied",
                self.path.display()
            );
        }
        Ok(())
    }

    fn responds(&self) -> bool {
        self.grants.any()
    }
}
