//! [`Executor`]: carries out one [`Action`] in the right account and region.

use std::sync::Arc;

use crate::action::Action;
use crate::clients::{load_base_config, AwsSettings, ClientCache, Clients};
use crate::error::ExecError;
use crate::iam::Principal;
use crate::{cloudtrail, eventbridge, iam, s3};

/// Where an action runs: the account and region of the event that caused it.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Target {
    /// The 12-digit account id; empty means the account of our own credentials.
    pub account: String,
    /// The region; empty or `global` means the configured default region.
    pub region: String,
}

/// What an executed action did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Outcome {
    /// The AWS request id of the call that made the change (or the webhook's).
    pub request_id: Option<String>,
    /// The action that undoes this one, when there is one (invariant 5: recorded so that
    /// `undo` is one command).
    pub inverse: Option<Action>,
    /// One line for people: what changed.
    pub detail: String,
    /// The role assumed to act in another account, if one was.
    pub assumed_role: Option<String>,
}

/// What a command says when no credentials resolve (the chain's detail is at debug level).
pub const NO_CREDENTIALS: &str = "no AWS credentials found: set AWS_PROFILE or \
AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or run where an instance or task role is available)";

/// Executes actions on AWS. Holds the base SDK configuration (credential chain, endpoint
/// override, timeouts) and caches service clients; cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Executor {
    settings: AwsSettings,
    cache: ClientCache,
}

impl Executor {
    /// Loads the SDK configuration: `settings.credentials` or the standard credential
    /// chain (env, profile, SSO, IMDS), the region, and the endpoint override. No AWS call
    /// is made yet, so missing credentials show up on the first action.
    ///
    /// # Errors
    /// A non-retryable [`ExecError`] for an invalid `endpoint_url` or a role that is not an
    /// ARN.
    pub async fn new(settings: AwsSettings) -> Result<Executor, ExecError> {
        for (account, role) in &settings.assume_role_by_account {
            if !role.starts_with("arn:") || !role.contains(":role/") {
                return Err(ExecError::invalid(format!(
                    "assume_role_by_account[{account}] = {role:?} is not a role ARN"
                )));
            }
            if account == ANY_ACCOUNT && !role.contains(ACCOUNT_PLACEHOLDER) {
                return Err(ExecError::invalid(format!(
                    "assume_role_by_account[\"*\"] = {role:?} must contain {ACCOUNT_PLACEHOLDER}: \
                     a role ARN names one account"
                )));
            }
        }
        let base = load_base_config(&settings).await?;
        Ok(Executor {
            settings,
            cache: ClientCache::new(base),
        })
    }

    /// Executes `action` in `target`'s account and region. `action_id` names the
    /// AssumeRole session (`trailwarden-<action_id>`) when the account needs a role.
    ///
    /// Every action is safe to repeat: an outbox retry after a lost answer either does
    /// nothing new or fails with a final error that says the state is already there (for
    /// example detaching a policy that is no longer attached).
    ///
    /// # Errors
    /// An [`ExecError`] whose `retryable` says whether to try again: invalid arguments, an
    /// account with no configured role, and AWS's final errors (AccessDenied,
    /// NoSuchEntity, validation) are not; throttling, 5xx, timeouts and connection
    /// failures are.
    pub async fn execute(
        &self,
        action: &Action,
        target: &Target,
        action_id: &str,
    ) -> Result<Outcome, ExecError> {
        action.validate()?;
        let clients = self.clients_for(target, action_id).await?;
        let result = run(&clients, action).await;
        let capability = action.capability();
        match result {
            Ok(mut outcome) => {
                outcome.assumed_role = clients.assumed_role.clone();
                tracing::info!(
                    action_id,
                    capability,
                    account = %target.account,
                    detail = %outcome.detail,
                    request_id = outcome.request_id.as_deref().unwrap_or(""),
                    "action executed"
                );
                Ok(outcome)
            }
            Err(err) => {
                // The caller (the outbox's executor) reports the failure with its attempt count.
                tracing::debug!(
                    action_id,
                    capability,
                    account = %target.account,
                    retryable = err.retryable,
                    "action failed: {}",
                    err.message
                );
                Err(err)
            }
        }
    }

    /// The SDK configuration with our own credentials in `region` (the configured region
    /// when empty), for calls that are not response actions (notifications).
    pub(crate) fn own_config(&self, region: &str) -> aws_config::SdkConfig {
        self.cache.own_config(region)
    }

    /// Resolves our own credentials once (the configured ones or the standard chain), so
    /// that a command can say "no credentials" before it changes an action's state.
    ///
    /// # Errors
    /// A non-retryable [`ExecError`] whose message says how to provide credentials; the
    /// chain's own detail is logged at debug level.
    pub async fn check_credentials(&self) -> Result<(), ExecError> {
        use aws_sdk_iam::config::ProvideCredentials;
        let Some(provider) = self.cache.base_credentials() else {
            return Err(ExecError::invalid(NO_CREDENTIALS.to_string()));
        };
        match provider.provide_credentials().await {
            Ok(_) => Ok(()),
            Err(error) => {
                tracing::debug!("credential chain: {}", crate::error::error_chain(&error));
                Err(ExecError::invalid(NO_CREDENTIALS.to_string()))
            }
        }
    }

    /// Our own clients, or clients from an AssumeRole into the target account.
    async fn clients_for(
        &self,
        target: &Target,
        action_id: &str,
    ) -> Result<Arc<Clients>, ExecError> {
        let region = self.cache.region_for(&target.region);
        let account = target.account.trim();
        if account.is_empty() {
            // Never "wherever our own credentials happen to be".
            return Err(ExecError::invalid(
                "the action names no account; refusing to act with trailwarden's own credentials",
            ));
        }
        if let Some(role) = role_for(&self.settings, account) {
            return Ok(Arc::new(
                self.cache.assumed(&region, &role, action_id).await?,
            ));
        }
        match &self.settings.platform_account {
            Some(own) if !account.is_empty() && account != own => {
                Err(ExecError::invalid(format!(
                    "account {account} is not the platform account ({own}) and has no role in assume_role_by_account"
                )))
            }
            _ => Ok(self.cache.own(&region)),
        }
    }
}

/// The `assume_role_by_account` key that matches every account not listed by id.
pub const ANY_ACCOUNT: &str = "*";
/// Replaced by the target account in the [`ANY_ACCOUNT`] role ARN.
pub const ACCOUNT_PLACEHOLDER: &str = "{account}";

/// The role to assume for actions in `account`: its own entry, else the `*` pattern for a
/// (12-digit) account other than our own; `None` means our own credentials.
pub fn role_for(settings: &AwsSettings, account: &str) -> Option<String> {
    if let Some(role) = settings.assume_role_by_account.get(account) {
        return Some(role.clone());
    }
    let own = account.is_empty() || settings.platform_account.as_deref() == Some(account);
    let is_account_id = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    if own || !is_account_id {
        return None;
    }
    settings
        .assume_role_by_account
        .get(ANY_ACCOUNT)
        .map(|pattern| pattern.replace(ACCOUNT_PLACEHOLDER, account))
}

/// Dispatches an action to its service module.
async fn run(c: &Clients, action: &Action) -> Result<Outcome, ExecError> {
    use Principal::{Group, Role, User};
    match action {
        Action::DisableAccessKey {
            user_name,
            access_key_id,
        } => iam::set_access_key_status(&c.iam, user_name, access_key_id, false).await,
        Action::EnableAccessKey {
            user_name,
            access_key_id,
        } => iam::set_access_key_status(&c.iam, user_name, access_key_id, true).await,
        Action::DeleteAccessKey {
            user_name,
            access_key_id,
        } => iam::delete_access_key(&c.iam, user_name, access_key_id).await,
        Action::DeleteLoginProfile { user_name } => {
            iam::delete_login_profile(&c.iam, user_name).await
        }
        Action::QuarantineUser { user_name } => iam::quarantine_user(&c.iam, user_name).await,
        Action::QuarantineRole { role_name } => iam::quarantine_role(&c.iam, role_name).await,
        Action::DeleteUserInlinePolicy {
            user_name,
            policy_name,
        } => iam::delete_user_inline_policy(&c.iam, user_name, policy_name).await,
        Action::DeleteRoleInlinePolicy {
            role_name,
            policy_name,
        } => iam::delete_role_inline_policy(&c.iam, role_name, policy_name).await,
        Action::DeleteInlinePolicy {
            principal_kind,
            principal_name,
            policy_name,
        } => iam::delete_inline_policy(&c.iam, *principal_kind, principal_name, policy_name).await,
        Action::PutInlinePolicy {
            principal_kind,
            principal_name,
            policy_name,
            policy_document,
        } => {
            iam::put_inline_policy(
                &c.iam,
                *principal_kind,
                principal_name,
                policy_name,
                policy_document,
            )
            .await
        }
        Action::DetachUserPolicy {
            user_name,
            policy_arn,
        } => iam::set_managed_policy(&c.iam, User, user_name, policy_arn, false).await,
        Action::AttachUserPolicy {
            user_name,
            policy_arn,
        } => iam::set_managed_policy(&c.iam, User, user_name, policy_arn, true).await,
        Action::DetachRolePolicy {
            role_name,
            policy_arn,
        } => iam::set_managed_policy(&c.iam, Role, role_name, policy_arn, false).await,
        Action::AttachRolePolicy {
            role_name,
            policy_arn,
        } => iam::set_managed_policy(&c.iam, Role, role_name, policy_arn, true).await,
        Action::DetachGroupPolicy {
            group_name,
            policy_arn,
        } => iam::set_managed_policy(&c.iam, Group, group_name, policy_arn, false).await,
        Action::AttachGroupPolicy {
            group_name,
            policy_arn,
        } => iam::set_managed_policy(&c.iam, Group, group_name, policy_arn, true).await,
        Action::RevokeRoleSessions { role_name } => {
            iam::revoke_role_sessions(&c.iam, role_name).await
        }
        Action::RemoveUserFromGroup {
            user_name,
            group_name,
        } => iam::set_group_membership(&c.iam, user_name, group_name, false).await,
        Action::AddUserToGroup {
            user_name,
            group_name,
        } => iam::set_group_membership(&c.iam, user_name, group_name, true).await,
        Action::StartLogging { trail } => cloudtrail::start_logging(&c.cloudtrail, trail).await,
        Action::PutPublicAccessBlock { bucket } => s3::block_public_access(&c.s3, bucket).await,
        Action::RestorePublicAccessBlock { bucket, previous } => {
            s3::restore_block(&c.s3, bucket, *previous).await
        }
        Action::PublishFinding {
            event_bus,
            detail_type,
            source,
            detail,
        } => eventbridge::publish_finding(&c.events, event_bus, detail_type, source, detail).await,
    }
}

#[cfg(test)]
mod role_tests {
    use super::*;

    fn settings(entries: &[(&str, &str)], platform: Option<&str>) -> AwsSettings {
        AwsSettings {
            assume_role_by_account: entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            platform_account: platform.map(str::to_string),
            ..AwsSettings::default()
        }
    }

    #[test]
    fn the_star_pattern_names_the_target_account_and_never_our_own() {
        let s = settings(
            &[
                ("*", "arn:aws:iam::{account}:role/trailwarden-responder"),
                ("222222222222", "arn:aws:iam::222222222222:role/special"),
            ],
            Some("111111111111"),
        );
        assert_eq!(
            role_for(&s, "333333333333").as_deref(),
            Some("arn:aws:iam::333333333333:role/trailwarden-responder")
        );
        // An explicit entry wins over the pattern.
        assert_eq!(
            role_for(&s, "222222222222").as_deref(),
            Some("arn:aws:iam::222222222222:role/special")
        );
        // Our own account, an unknown one (empty) and a malformed one use our credentials
        // (and the malformed one is then refused as not ours).
        assert_eq!(role_for(&s, "111111111111"), None);
        assert_eq!(role_for(&s, ""), None);
        assert_eq!(role_for(&s, "12345"), None);
        assert_eq!(role_for(&settings(&[], None), "333333333333"), None);
    }
}
