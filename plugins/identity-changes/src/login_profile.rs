//! `aws.iam.login-profile-changed-by-other`: a console password was created or reset for
//! another IAM user, and the user is not made to change it.
//!
//! A successful `iam:CreateLoginProfile` or `iam:UpdateLoginProfile` where
//! - the target user (`requestParameters.userName`, else
//!   `responseElements.loginProfile.userName`) is not the caller: the caller's ARN does not
//!   end in `/<user>` (an IAM user's own ARN, or a role or federated session named after
//!   the user, compared case-insensitively as IAM names are) and, for an IAM user, its
//!   `userName` is another; the root user is never the target user;
//! - and no password reset is required (`passwordResetRequired` absent or false): the
//!   caller chose a password that stays valid, so it knows a working password of the user.
//!   With a reset required, the user's next sign-in replaces it, and the change is how an
//!   administrator hands out a first or forgotten password.
//!
//! This is the logic of Panther's `AWS.User.Login.Profile.Modified` and
//! `AWS.CloudTrail.LoginProfileCreatedOrModified` (their tests: a session named `alice`
//! setting `alice`'s password is her own change; `bob`'s with `passwordResetRequired` is
//! not a finding). A session's name is chosen by whoever assumed the role, so a caller can
//! name its session after its victim: the session name is trusted here only to agree with
//! Panther, and `context.caller_arn` shows it. `CreateUser` is not part of the rule: it
//! sets no password (Panther's `AWS.IAM.CreateUser` reports every new user, which is
//! inventory, not this).
//!
//! Response: `iam.delete-login-profile(user)`: the password the caller set stops working;
//! an administrator sets a new one (with a reset required) if the user needs it.

use trailwarden_plugin_sdk::json::{at, boolish};
use trailwarden_plugin_sdk::serde_json::{json, Value};
use trailwarden_plugin_sdk::{capitalize, Event, Finding, Severity};

use crate::{api_call, caller_is_user, region, text_of, Draft, IAM, LOGIN_PROFILE_BY_OTHER};

/// A password set for another user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordForOther {
    /// The user whose password was set.
    pub user_name: String,
    /// `CreateLoginProfile` (a first password) or `UpdateLoginProfile` (a reset).
    pub created: bool,
}

/// The user, if `event` is a successful password creation or reset for another user with
/// no reset required.
pub fn password_for_other(event: &Event, raw: Option<&Value>) -> Option<PasswordForOther> {
    let created = match event.name.as_deref() {
        Some("CreateLoginProfile") => true,
        Some("UpdateLoginProfile") => false,
        _ => return None,
    };
    if event.source.as_deref() != Some(IAM) || event.failed() || !api_call(event) {
        return None;
    }
    let raw = raw?;
    let user = text_of(Some(raw), &["requestParameters", "userName"])
        .or_else(|| text_of(Some(raw), &["responseElements", "loginProfile", "userName"]))?;
    let reset_required = [
        &["requestParameters", "passwordResetRequired"][..],
        &["responseElements", "loginProfile", "passwordResetRequired"][..],
    ]
    .iter()
    .any(|path| at(raw, path).and_then(boolish) == Some(true));
    if reset_required || caller_is_user(event, raw, user) {
        return None;
    }
    Some(PasswordForOther {
        user_name: user.to_owned(),
        created,
    })
}

/// The finding, if `event` set a password for another user.
pub fn detect(event: &Event, raw: Option<&Value>) -> Option<Finding> {
    let change = password_for_other(event, raw)?;
    let account = event.account_or_unknown();
    let user = &change.user_name;
    let actor = event.actor();
    let (title, did) = if change.created {
        (
            format!("Console password created for IAM user {user} by {actor} in account {account}"),
            "created a console password",
        )
    } else {
        (
            format!("Console password reset for IAM user {user} by {actor} in account {account}"),
            "reset the console password",
        )
    };
    let description = format!(
        "{} {did} for IAM user {user} in account {account}, region {}, {}, without requiring \
         the user to choose a new one at the next sign-in: the caller knows a working \
         password of {user}. Ask the user and the caller whether this was meant; if not, keep \
         the login profile deleted and review the user's sign-ins since the change.",
        capitalize(&actor),
        region(event),
        event.origin(),
    );
    Some(
        Draft {
            rule_id: LOGIN_PROFILE_BY_OTHER,
            severity: Severity::High,
            title,
            description,
            resources: vec![crate::iam_arn(event, &format!("user/{user}"))],
            subject: user.to_owned(),
            extra: json!({
                "user_name": user,
                "created": change.created,
                "password_reset_required": false,
            }),
        }
        .finish(event),
    )
}
