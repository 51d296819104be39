//! `aws.iam.user-created-or-updated`: an IAM user created, or another user renamed or moved.
//!
//! A successful `iam:CreateUser` (`requestParameters.userName`, `path`; the response's
//! `user.arn`), or a successful `iam:UpdateUser` that renames (`newUserName`) or moves
//! (`newPath`) a user other than the caller. A new IAM user is a lasting identity with its
//! own keys and password, independent of the session that made it: creating one is how an
//! attacker keeps access (T1136.003); renaming or moving someone else's user can slip it out
//! of the policies and reviews that name it by ARN (T1098). A user renaming or moving itself
//! (the caller's ARN ends in `/<user>`, or it is that IAM user) is left out.
//!
//! Calls made by an AWS service are left out: an `AWSService` principal, or any call
//! `invokedBy` a service, such as `cloudformation.amazonaws.com` deploying users from a
//! template (the change is reviewed in the template, not here).
//!
//! The dedup key is the user (its name before any rename), so the creation and a later
//! update of one user are one incident. Corresponds to Panther's `AWS.IAM.CreateUser`.

use trailwarden_plugin_sdk::serde_json::{json, Value};
use trailwarden_plugin_sdk::{capitalize, non_empty, Event, Finding, Severity};

use crate::{api_call, caller_is_user, region, text_of, Draft, IAM, USER_CREATED_OR_UPDATED};

/// A user created or changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserChange {
    /// The user's name (before any rename).
    pub user_name: String,
    /// `CreateUser` (`true`) or `UpdateUser` (`false`).
    pub created: bool,
    /// The path it was created with, or moved to.
    pub path: Option<String>,
    /// Its new name, for a rename.
    pub new_user_name: Option<String>,
    /// Its ARN as the response gives it (`CreateUser` only).
    pub arn: Option<String>,
}

/// Whether an AWS service made the call (itself, or on a principal's behalf).
fn by_aws_service(event: &Event) -> bool {
    event.principal.r#type.as_deref() == Some("AWSService")
        || non_empty(event.principal.invoked_by.as_deref()).is_some()
}

/// The change, if `event` is a successful `CreateUser`, or an `UpdateUser` of another user,
/// by a principal that is not an AWS service.
pub fn changed(event: &Event, raw: Option<&Value>) -> Option<UserChange> {
    let created = match event.name.as_deref() {
        Some("CreateUser") => true,
        Some("UpdateUser") => false,
        _ => return None,
    };
    if event.source.as_deref() != Some(IAM)
        || event.failed()
        || !api_call(event)
        || by_aws_service(event)
    {
        return None;
    }
    let raw = raw?;
    let user = text_of(Some(raw), &["requestParameters", "userName"]).or_else(|| {
        created.then(|| text_of(Some(raw), &["responseElements", "user", "userName"]))?
    })?;
    let new_user_name = text_of(Some(raw), &["requestParameters", "newUserName"]);
    let path = if created {
        text_of(Some(raw), &["requestParameters", "path"])
            .or_else(|| text_of(Some(raw), &["responseElements", "user", "path"]))
    } else {
        text_of(Some(raw), &["requestParameters", "newPath"])
    };
    if !created && (new_user_name.is_none() && path.is_none() || caller_is_user(event, raw, user)) {
        return None;
    }
    Some(UserChange {
        user_name: user.to_owned(),
        created,
        path: path.map(str::to_owned),
        new_user_name: new_user_name.map(str::to_owned),
        arn: created
            .then(|| text_of(Some(raw), &["responseElements", "user", "arn"]))
            .flatten()
            .map(str::to_owned),
    })
}

/// `user<path><name>`: the resource part of a user's ARN (path `/` when not known).
fn user_resource(path: Option<&str>, name: &str) -> String {
    let path = path.unwrap_or("/");
    let path = path.strip_suffix('/').unwrap_or(path);
    let path = path.strip_prefix('/').unwrap_or(path);
    if path.is_empty() {
        format!("user/{name}")
    } else {
        format!("user/{path}/{name}")
    }
}

/// The finding, if `event` created a user or renamed or moved another.
pub fn detect(event: &Event, raw: Option<&Value>) -> Option<Finding> {
    let change = changed(event, raw)?;
    let account = event.account_or_unknown();
    let user = &change.user_name;
    let actor = event.actor();
    let (title, did, consequence, resources) = if change.created {
        let arn = change
            .arn
            .clone()
            .unwrap_or_else(|| crate::iam_arn(event, &user_resource(change.path.as_deref(), user)));
        (
            format!("IAM user {user} created by {actor} in account {account}"),
            format!("created IAM user {arn}"),
            "A new user is a lasting identity that keeps working after the session that made \
             it ends, once it is given keys, a password or policies. Check that the user was \
             meant to exist (a ticket, your infrastructure code); if not, delete its keys and \
             login profile, then the user.",
            vec![arn],
        )
    } else {
        let new_name = change.new_user_name.as_deref().unwrap_or(user);
        let mut what = Vec::new();
        if let Some(new_name) = &change.new_user_name {
            what.push(format!("renamed it to {new_name}"));
        }
        if let Some(path) = &change.path {
            what.push(format!("moved it to path {path}"));
        }
        let old_arn = crate::iam_arn(event, &format!("user/{user}"));
        let new_arn = crate::iam_arn(event, &user_resource(change.path.as_deref(), new_name));
        (
            format!("IAM user {user} renamed or moved by {actor} in account {account}"),
            format!("updated IAM user {user} ({})", what.join(" and ")),
            "Policies, reviews and alerts that name the user by its ARN no longer \
             match it. Check that the change was meant (a ticket, your infrastructure code); \
             if not, restore the name and path and review what the user did since.",
            if new_arn == old_arn {
                vec![old_arn]
            } else {
                vec![old_arn, new_arn]
            },
        )
    };
    let description = format!(
        "{} {did} in account {account}, region {}, {}. {consequence}",
        capitalize(&actor),
        region(event),
        event.origin(),
    );
    Some(
        Draft {
            rule_id: USER_CREATED_OR_UPDATED,
            severity: Severity::Medium,
            title,
            description,
            resources,
            subject: user.to_owned(),
            extra: json!({
                "user_name": user,
                "created": change.created,
                "path": change.path,
                "new_user_name": change.new_user_name,
            }),
        }
        .finish(event),
    )
}
