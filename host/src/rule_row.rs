//! One rule of a plugin's catalog as `rules list` lists it and the coverage and CIS
//! reports group it: a leaf module, so that reports do not import `rules list`.

use serde::Serialize;

/// One row of the listing (the JSON form's object).
#[derive(Debug, Clone, Serialize)]
pub struct RuleRow {
    pub id: String,
    pub plugin: String,
    pub severity: String,
    /// The ATT&CK technique ids, comma-separated.
    pub technique: String,
    /// The capabilities it calls, each with the mode its grant gives it, e.g.
    /// `iam.disable-access-key (dry-run)`; `report only` when it calls none.
    pub response: String,
    pub title: String,
    /// The Panther rules it is mapped to (the plugin's `panther.json`), sorted.
    pub panther: Vec<String>,
    /// The CIS monitoring controls it implements (`report cis`), e.g. `4.8`.
    pub cis: Vec<String>,
    /// `active`, or `refused` (the plugin was given the rule but cannot run it).
    pub status: &'static str,
    /// Why it was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}
