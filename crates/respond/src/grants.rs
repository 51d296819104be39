//! What an admin grants a plugin: capabilities, narrowed by scope and budget, each with a
//! mode. Deny by default: a plugin with no grants can do nothing.

use serde::Deserialize;

/// How a granted action is carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Executed by the outbox's executors.
    Enforce,
    /// Recorded with what would have been done; never executed.
    #[default]
    DryRun,
    /// Waits for `trailwarden actions approve`.
    Approve,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::DryRun => "dry-run",
            Mode::Approve => "approve",
        }
    }
}

/// What to do with a component that imports a capability interface it holds no grant in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum UngrantedImports {
    /// Refuse to load the plugin (the default).
    #[default]
    Refuse,
    /// Load it; every call of an ungranted capability answers `denied`.
    Deny,
}

/// One grant, as written in `[[plugins.grants]]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// `iam.disable-access-key`, or a family wildcard `iam.*`.
    pub capability: String,
    /// Overrides the plugin's mode for this capability.
    pub mode: Option<Mode>,
    /// Accounts it may act in (`*` for any). Required: no implicit "everywhere".
    pub accounts: Vec<String>,
    /// Regions it may act in; default any.
    #[serde(default = "any")]
    pub regions: Vec<String>,
    /// ARN glob patterns (`*`, `?`) of the resources and principals it may touch; default any.
    #[serde(default = "any")]
    pub resources: Vec<String>,
    /// Actions per hour for this capability (non-denied decisions), default 10.
    #[serde(default = "default_budget")]
    pub max_per_hour: u32,
}

fn any() -> Vec<String> {
    vec!["*".to_string()]
}

fn default_budget() -> u32 {
    10
}

/// The capability families, each a WIT interface of `trailwarden:plugin@0.2.0` (0.6.0 adds
/// an `iam` of its own, the same family).
pub const FAMILIES: [&str; 5] = ["iam", "cloudtrail", "s3", "eventbridge", "notify"];

/// Every capability a plugin can call (the capability table's names).
pub const CAPABILITIES: [&str; super::capabilities::TABLE.len()] = super::capabilities::NAMES;

/// A plugin's grants and defaults, validated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PluginGrants {
    pub mode: Mode,
    pub ungranted_imports: UngrantedImports,
    pub grants: Vec<Grant>,
    /// Every capability granted in dry-run, anywhere: the built-in default configuration
    /// (no config file), which records what plugins would do and never acts.
    pub dry_run_everything: bool,
}

impl PluginGrants {
    /// The built-in default: every call recorded as a dry-run, nothing ever executed.
    pub fn dry_run_everything() -> PluginGrants {
        PluginGrants {
            mode: Mode::DryRun,
            ungranted_imports: UngrantedImports::Deny,
            grants: Vec::new(),
            dry_run_everything: true,
        }
    }
}

/// Where an action would act.
#[derive(Debug, Clone)]
pub struct Scope<'a> {
    pub account: &'a str,
    pub region: &'a str,
    pub resource: &'a str,
}

/// The decision for one call, before the budget is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Granted { mode: Mode, max_per_hour: u32 },
    Denied(String),
}

impl PluginGrants {
    /// Checks grants for mistakes an admin would want to hear about at load time.
    ///
    /// # Errors
    /// A grant names an unknown capability or family, or has no accounts.
    pub fn validate(&self) -> Result<(), String> {
        for grant in &self.grants {
            let known = match grant.capability.strip_suffix(".*") {
                Some(family) => FAMILIES.contains(&family),
                None => CAPABILITIES.contains(&grant.capability.as_str()),
            };
            if !known {
                return Err(format!(
                    "unknown capability {:?} (known: {}, or a family such as iam.*)",
                    grant.capability,
                    CAPABILITIES.join(", ")
                ));
            }
            if grant.accounts.is_empty() {
                return Err(format!(
                    "grant {:?} lists no accounts (use [\"*\"] for any)",
                    grant.capability
                ));
            }
        }
        Ok(())
    }

    /// Whether any grant covers a capability family (for the load-time import check).
    pub fn covers_family(&self, family: &str) -> bool {
        self.dry_run_everything
            || self.grants.iter().any(|g| {
                g.capability == format!("{family}.*")
                    || g.capability.split('.').next() == Some(family)
            })
    }

    /// Whether any grant names this capability (or its family).
    pub fn names(&self, capability: &str) -> bool {
        let family = capability.split('.').next().unwrap_or("");
        self.dry_run_everything
            || self
                .grants
                .iter()
                .any(|g| g.capability == capability || g.capability == format!("{family}.*"))
    }

    /// The mode a call of `capability` would run in under the first grant naming it, or
    /// `None` when no grant names it (what `rules list` shows; scopes still apply per call).
    pub fn mode_of(&self, capability: &str) -> Option<Mode> {
        let family = capability.split('.').next().unwrap_or("");
        match self
            .grants
            .iter()
            .find(|g| g.capability == capability || g.capability == format!("{family}.*"))
        {
            Some(grant) => Some(grant.mode.unwrap_or(self.mode)),
            None if self.dry_run_everything => Some(Mode::DryRun),
            None => None,
        }
    }

    /// Whether the plugin holds any grant at all (a "response" plugin).
    pub fn any(&self) -> bool {
        self.dry_run_everything || !self.grants.is_empty()
    }

    /// Decides a call by capability and scope. The first grant naming the capability (or
    /// its family) whose scope fits wins; if none fits, the reason says what did not.
    ///
    /// An event that names no account matches no grant, not even `accounts = ["*"]`: an
    /// action for it would act in an account nobody chose.
    pub fn decide(&self, capability: &str, scope: &Scope<'_>) -> Verdict {
        if scope.account.trim().is_empty() {
            return Verdict::Denied(format!(
                "{capability}: the event names no account, so no grant covers it"
            ));
        }
        let family = capability.split('.').next().unwrap_or("");
        let candidates: Vec<&Grant> = self
            .grants
            .iter()
            .filter(|g| g.capability == capability || g.capability == format!("{family}.*"))
            .collect();
        if candidates.is_empty() {
            if self.dry_run_everything {
                return Verdict::Granted {
                    mode: Mode::DryRun,
                    max_per_hour: u32::MAX,
                };
            }
            return Verdict::Denied(format!("capability {capability} is not granted"));
        }
        let mut reasons = Vec::new();
        for grant in candidates {
            if !grant.accounts.iter().any(|p| glob_match(p, scope.account)) {
                reasons.push(format!("account {} is outside the grant", scope.account));
            } else if !grant.regions.iter().any(|p| glob_match(p, scope.region)) {
                reasons.push(format!("region {} is outside the grant", scope.region));
            } else if !grant
                .resources
                .iter()
                .any(|p| glob_match(p, scope.resource))
            {
                reasons.push(format!("resource {} is outside the grant", scope.resource));
            } else {
                return Verdict::Granted {
                    mode: grant.mode.unwrap_or(self.mode),
                    max_per_hour: grant.max_per_hour,
                };
            }
        }
        Verdict::Denied(format!("{capability}: {}", reasons.join("; ")))
    }
}

// Shared with suppressions and self-principals, which are not part of the response side.
pub use crate::glob::glob_match;

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(capability: &str) -> Grant {
        Grant {
            capability: capability.into(),
            mode: None,
            accounts: vec!["111122223333".into()],
            regions: any(),
            resources: vec!["arn:aws:iam::*:user/*".into()],
            max_per_hour: 5,
        }
    }

    fn scope<'a>(account: &'a str, resource: &'a str) -> Scope<'a> {
        Scope {
            account,
            region: "us-east-1",
            resource,
        }
    }

    #[test]
    fn a_wildcard_account_does_not_match_an_event_without_one() {
        let grants = PluginGrants {
            mode: Mode::Enforce,
            grants: vec![Grant {
                accounts: vec!["*".into()],
                resources: any(),
                ..grant("notify.send")
            }],
            ..PluginGrants::default()
        };
        let Verdict::Denied(reason) = grants.decide("notify.send", &scope("", "")) else {
            panic!("an event without an account was granted");
        };
        assert!(reason.contains("names no account"), "{reason}");
        assert!(matches!(
            grants.decide("notify.send", &scope("111122223333", "")),
            Verdict::Granted { .. }
        ));
    }

    #[test]
    fn globs() {
        assert!(glob_match("*", ""));
        assert!(glob_match(
            "arn:aws:iam::*:user/*",
            "arn:aws:iam::1:user/alice"
        ));
        assert!(!glob_match(
            "arn:aws:iam::*:user/*",
            "arn:aws:iam::1:role/alice"
        ));
        assert!(glob_match("a?c*", "abcdef"));
        assert!(!glob_match("a?c", "ac"));
        assert!(glob_match("*b*b", "abab"));
    }

    #[test]
    fn nothing_is_granted_by_default() {
        let grants = PluginGrants::default();
        assert!(matches!(
            grants.decide("iam.disable-access-key", &scope("111122223333", "x")),
            Verdict::Denied(r) if r.contains("not granted")
        ));
    }

    #[test]
    fn scope_and_mode_decide() {
        let mut grants = PluginGrants {
            mode: Mode::Enforce,
            grants: vec![grant("iam.disable-access-key")],
            ..Default::default()
        };
        let user = "arn:aws:iam::111122223333:user/bob";
        assert_eq!(
            grants.decide("iam.disable-access-key", &scope("111122223333", user)),
            Verdict::Granted {
                mode: Mode::Enforce,
                max_per_hour: 5
            }
        );
        let Verdict::Denied(reason) =
            grants.decide("iam.disable-access-key", &scope("999999999999", user))
        else {
            panic!("another account must be denied")
        };
        assert!(reason.contains("account 999999999999"), "{reason}");
        let Verdict::Denied(reason) = grants.decide(
            "iam.disable-access-key",
            &scope("111122223333", "arn:aws:iam::111122223333:role/admin"),
        ) else {
            panic!("a role is outside user/*")
        };
        assert!(reason.contains("resource"), "{reason}");
        assert!(matches!(
            grants.decide("iam.delete-access-key", &scope("111122223333", user)),
            Verdict::Denied(_)
        ));
        grants.grants[0].mode = Some(Mode::Approve);
        assert!(matches!(
            grants.decide("iam.disable-access-key", &scope("111122223333", user)),
            Verdict::Granted {
                mode: Mode::Approve,
                ..
            }
        ));
    }

    #[test]
    fn family_wildcards_cover_their_family_only() {
        let grants = PluginGrants {
            grants: vec![grant("iam.*")],
            ..Default::default()
        };
        assert!(grants.covers_family("iam"));
        assert!(!grants.covers_family("s3"));
        assert!(grants.validate().is_ok());
        let bad = PluginGrants {
            grants: vec![grant("iam.disable-everything")],
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().contains("unknown capability"));
    }
}
