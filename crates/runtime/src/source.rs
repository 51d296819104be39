//! What a plugin is loaded from: the host's plugin configuration, seen through what the
//! sandbox needs of it. The configuration (and the grants in it) stays the host's type; the
//! loaded plugin keeps it, so a reload can tell whether it changed.

use std::path::Path;

use crate::limits::PluginLimits;

/// The capability interfaces of the WIT, by family: an import of one is checked against the
/// plugin's grants at load.
pub const FAMILIES: [&str; 5] = ["iam", "cloudtrail", "s3", "eventbridge", "notify"];

/// A plugin's configuration, as the sandbox reads it.
pub trait PluginSource: Clone + Send + Sync + 'static {
    /// The component file.
    fn path(&self) -> &Path;
    /// The name the admin expects; loading fails if `describe` says otherwise.
    fn expected_name(&self) -> Option<&str>;
    fn limits(&self) -> PluginLimits;
    /// Pattern JSON texts that replace the plugin's own subscriptions.
    fn patterns_override(&self) -> Option<&[String]>;
    /// The plugin's `config` as JSON object text.
    fn settings_json(&self) -> &str;
    /// Refuses, at load, an import of a capability interface of `family` (one of
    /// [`FAMILIES`]) that the plugin's grants do not allow.
    ///
    /// # Errors
    /// The import is refused; the message says how to allow it.
    fn check_import(&self, import: &str, family: &str) -> anyhow::Result<()>;
    /// Whether the plugin holds any response grant (so self-caused events are withheld from
    /// it unless it opted in).
    fn responds(&self) -> bool;
}
