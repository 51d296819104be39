//! The plugin's own settings (WIT `config`): its `config` table in trailwarden.toml, as a
//! JSON object.
//!
//! In a component [`Config::current`] asks the host (`config.get`); natively it returns the
//! value a test set with [`Config::set_native`] on the same thread (default `{}`).

use serde_json::{Map, Value};

use crate::PluginError;

/// The config key naming the notify target (`{"notify_target": "oncall"}`), a webhook the
/// admin configured in trailwarden.toml (`[notify.<name>]`).
pub const NOTIFY_TARGET_KEY: &str = "notify_target";
/// The notify target when the config names none.
pub const DEFAULT_NOTIFY_TARGET: &str = "security-team";

/// The plugin's configuration: always a JSON object (`{}` when the admin gave none).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    table: Map<String, Value>,
}

#[cfg(not(target_arch = "wasm32"))]
thread_local! {
    static NATIVE: std::cell::RefCell<Config> = std::cell::RefCell::new(Config::default());
}

impl Config {
    /// The empty configuration `{}`.
    pub fn empty() -> Config {
        Config::default()
    }

    /// A configuration from a JSON value.
    ///
    /// # Errors
    /// [`PluginError::BadInput`] if `value` is not an object.
    pub fn from_value(value: Value) -> Result<Config, PluginError> {
        match value {
            Value::Object(table) => Ok(Config { table }),
            other => Err(PluginError::BadInput(format!(
                "the plugin config is not a JSON object: {other}"
            ))),
        }
    }

    /// A configuration from JSON text; blank text is `{}`.
    ///
    /// # Errors
    /// [`PluginError::BadInput`] if the text is not a JSON object.
    pub fn parse(text: &str) -> Result<Config, PluginError> {
        if text.trim().is_empty() {
            return Ok(Config::default());
        }
        let value = serde_json::from_str(text)
            .map_err(|e| PluginError::BadInput(format!("the plugin config is not JSON: {e}")))?;
        Config::from_value(value)
    }

    /// The configuration the plugin runs with: from the host in a component, else the value
    /// set by [`Config::set_native`] on this thread (default `{}`).
    ///
    /// # Errors
    /// [`PluginError::BadInput`] if the host's text is not a JSON object.
    pub fn current() -> Result<Config, PluginError> {
        #[cfg(target_arch = "wasm32")]
        {
            Config::parse(&crate::component::config_text())
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            Ok(NATIVE.with(|c| c.borrow().clone()))
        }
    }

    /// Natively, sets what [`Config::current`] returns on this thread (tests).
    ///
    /// # Panics
    /// If `value` is not a JSON object.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn set_native(value: Value) {
        let config = Config::from_value(value).expect("a plugin config is a JSON object");
        NATIVE.with(|c| *c.borrow_mut() = config);
    }

    /// The whole table.
    pub fn table(&self) -> &Map<String, Value> {
        &self.table
    }

    /// The whole table as a JSON value.
    pub fn to_value(&self) -> Value {
        Value::Object(self.table.clone())
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.table.get(key)
    }

    /// The string at `key`, if it is a non-blank string.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
    }

    /// The string at `key`, else `default` (when absent, blank or not a string).
    pub fn str_or<'a>(&'a self, key: &str, default: &'a str) -> &'a str {
        self.str(key).unwrap_or(default)
    }

    /// The boolean at `key` (`true`/`false`, or a string such as `"yes"`).
    pub fn bool(&self, key: &str) -> Option<bool> {
        self.get(key).and_then(crate::json::boolish)
    }

    /// The target for `notify.send`: [`NOTIFY_TARGET_KEY`], else [`DEFAULT_NOTIFY_TARGET`].
    pub fn notify_target(&self) -> &str {
        self.str_or(NOTIFY_TARGET_KEY, DEFAULT_NOTIFY_TARGET)
    }

    /// The non-negative integer at `key`.
    pub fn u64(&self, key: &str) -> Option<u64> {
        self.get(key).and_then(Value::as_u64)
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_objects_only() {
        assert_eq!(Config::parse("").unwrap(), Config::empty());
        let c = Config::parse(r#"{"notify_target": "oncall", "n": 3, "on": "yes", "blank": " "}"#)
            .unwrap();
        assert_eq!(c.notify_target(), "oncall");
        assert_eq!(Config::empty().notify_target(), "security-team");
        assert_eq!(c.str_or("blank", "x"), "x");
        assert_eq!(c.u64("n"), Some(3));
        assert_eq!(c.bool("on"), Some(true));
        assert!(Config::parse("[1]").is_err());
        assert!(Config::parse("{").is_err());
    }

    #[test]
    fn native_value_is_per_thread() {
        assert_eq!(Config::current().unwrap(), Config::empty());
        Config::set_native(json!({"notify_target": "soc"}));
        assert_eq!(Config::current().unwrap().str("notify_target"), Some("soc"));
        std::thread::spawn(|| assert_eq!(Config::current().unwrap(), Config::empty()))
            .join()
            .unwrap();
    }
}
