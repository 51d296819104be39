//! `[aws] discover_accounts = true`: the organisation's member accounts from Organizations
//! `ListAccounts`, read at start and on each reload.
//!
//! Each active account other than the platform account gets the `"*"` role pattern of
//! `[aws.assume_role]` with its id (unless the config names a role for it), and the pattern
//! itself is dropped: trailwarden then acts in exactly the organisation's accounts, the
//! broker accepts them (it accepts only accounts it knows a role for), and a
//! `self_principals` pattern whose account is `*` stands for each of them. If the listing
//! fails, the config is used as written, with a warning.

use std::collections::BTreeMap;

use anyhow::Result;
use serde::Serialize;

use crate::aws::AwsTarget;
use crate::config::{Config, ResponseSettings};

/// One account of the organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrgAccount {
    pub id: String,
    pub name: String,
    pub email: String,
    /// `ACTIVE`, `SUSPENDED`, `CLOSED`...
    pub status: String,
}

/// The `[aws.assume_role]` key whose ARN is a pattern for every other account.
const ANY_ACCOUNT: &str = "*";

/// At most this many accounts are read (Organizations' own default quota is far lower).
const MAX_ACCOUNTS: usize = 10_000;

/// Every account of the organisation, following `NextToken`.
///
/// # Errors
/// The call fails (not in an organisation, no permission, unreachable).
pub async fn list_accounts(target: &AwsTarget) -> Result<Vec<OrgAccount>> {
    let sdk = target.sdk_config().await;
    let client = aws_sdk_organizations::Client::new(&sdk);
    let mut accounts = Vec::new();
    let mut pages = client.list_accounts().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| crate::aws::sdk_error("organizations:ListAccounts", e))?;
        for account in page.accounts() {
            accounts.push(OrgAccount {
                id: account.id().unwrap_or_default().to_string(),
                name: account.name().unwrap_or_default().to_string(),
                email: account.email().unwrap_or_default().to_string(),
                // `State` replaces the older `Status`; both say ACTIVE for a usable account.
                status: account
                    .state()
                    .map(|s| s.as_str().to_string())
                    .or_else(|| account.status().map(|s| s.as_str().to_string()))
                    .unwrap_or_default(),
            });
        }
        anyhow::ensure!(
            accounts.len() <= MAX_ACCOUNTS,
            "organizations:ListAccounts returned more than {MAX_ACCOUNTS} accounts"
        );
    }
    Ok(accounts)
}

/// The role trailwarden would assume in each active account: the config's own entry, else
/// the `"*"` pattern with the account's id. `None` for the platform account (our own
/// credentials) and where neither applies.
pub fn roles_for(
    settings: &ResponseSettings,
    accounts: &[OrgAccount],
) -> BTreeMap<String, Option<String>> {
    accounts
        .iter()
        .filter(|a| a.status == "ACTIVE")
        .map(|a| {
            let role = if settings.platform_account.as_deref() == Some(a.id.as_str()) {
                settings.assume_role.get(&a.id).cloned()
            } else {
                settings.assume_role.get(&a.id).cloned().or_else(|| {
                    settings
                        .assume_role
                        .get(ANY_ACCOUNT)
                        .map(|p| p.replace("{account}", &a.id))
                })
            };
            (a.id.clone(), role)
        })
        .collect()
}

/// Folds the discovered accounts into the settings (see the module's text).
///
/// # Errors
/// A `self_principals` pattern still matches none of the accounts now known.
pub fn apply(settings: &mut ResponseSettings, accounts: &[OrgAccount]) -> Result<usize> {
    let mut added = 0;
    for (account, role) in roles_for(settings, accounts) {
        if let Some(role) = role {
            if settings.assume_role.insert(account, role).is_none() {
                added += 1;
            }
        }
    }
    settings.assume_role.remove(ANY_ACCOUNT);
    settings.self_principals = crate::config::own_principal_patterns(
        &settings.self_principal_patterns,
        settings.platform_account.as_deref(),
        &settings.assume_role,
        false,
    )?;
    Ok(added)
}

/// Discovers the accounts into `config` when `[aws] discover_accounts` is on; on failure
/// leaves the config as written and says so.
pub async fn discover_into(config: &mut Config) {
    if !config.response.discover_accounts {
        return;
    }
    let listed = list_accounts(&AwsTarget::of(config)).await;
    let outcome = listed.and_then(|accounts| {
        let mut settings = config.response.clone();
        let added = apply(&mut settings, &accounts)?;
        config.response = settings;
        Ok((accounts.len(), added))
    });
    match outcome {
        Ok((listed, added)) => tracing::info!(
            listed,
            added,
            "organisation accounts discovered: actions run only in these and the configured ones"
        ),
        Err(e) => {
            tracing::warn!("account discovery failed, using [aws.assume_role] as written: {e:#}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(id: &str, status: &str) -> OrgAccount {
        OrgAccount {
            id: id.into(),
            name: format!("acct-{id}"),
            email: format!("{id}@example.com"),
            status: status.into(),
        }
    }

    #[test]
    fn the_pattern_becomes_one_role_per_active_member_and_self_principals_follow() {
        let mut settings = ResponseSettings {
            platform_account: Some("111111111111".into()),
            assume_role: BTreeMap::from([
                (
                    "*".to_string(),
                    "arn:aws:iam::{account}:role/trailwarden-responder".to_string(),
                ),
                (
                    "222222222222".to_string(),
                    "arn:aws:iam::222222222222:role/custom".to_string(),
                ),
            ]),
            self_principal_patterns: vec!["arn:aws:iam::*:role/trailwarden-*".into()],
            discover_accounts: true,
            ..ResponseSettings::default()
        };
        let accounts = [
            account("111111111111", "ACTIVE"),
            account("222222222222", "ACTIVE"),
            account("333333333333", "ACTIVE"),
            account("444444444444", "SUSPENDED"),
        ];
        assert_eq!(apply(&mut settings, &accounts).unwrap(), 1);
        assert_eq!(
            settings.assume_role,
            BTreeMap::from([
                (
                    "222222222222".to_string(),
                    "arn:aws:iam::222222222222:role/custom".to_string()
                ),
                (
                    "333333333333".to_string(),
                    "arn:aws:iam::333333333333:role/trailwarden-responder".to_string()
                ),
            ])
        );
        assert_eq!(
            settings.self_principals,
            [
                "arn:aws:iam::111111111111:role/trailwarden-*",
                "arn:aws:iam::222222222222:role/trailwarden-*",
                "arn:aws:iam::333333333333:role/trailwarden-*",
            ]
        );
    }
}
