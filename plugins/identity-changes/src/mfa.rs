//! `aws.iam.mfa-device-removed`: an MFA device was deactivated, or a virtual one deleted.
//!
//! A successful `iam:DeactivateMFADevice` (`requestParameters.userName`, `serialNumber`) or
//! `iam:DeleteVirtualMFADevice` (`serialNumber`). Without its MFA device, a user signs in
//! with the password alone; taking it off is how an attacker who has the password (or a
//! session) gets lasting access, and then registers a device of its own.
//!
//! High when it is the root user's device: the request names the user `AWS ROOT USER` (as
//! CloudTrail writes it for the root user), the serial is `...:mfa/root-account-mfa-device`,
//! or the root user acted without naming a user. Medium otherwise: people also replace a
//! lost phone this way.
//!
//! A virtual device can only be deleted once it is deactivated, so a successful
//! `DeleteVirtualMFADevice` usually follows a `DeactivateMFADevice` of the same device (or
//! cleans up a device whose set-up was abandoned). Both findings share the dedup key (the
//! device's serial), so they are one incident and notified once. No Panther rule of the
//! corpus corresponds (Falco has "Deactivate MFA for Root User").

use trailwarden_plugin_sdk::serde_json::{json, Value};
use trailwarden_plugin_sdk::{capitalize, Event, Finding, Severity};

use crate::{api_call, region, text_of, Draft, IAM, MFA_DEVICE_REMOVED};

/// The name CloudTrail gives the root user in `requestParameters.userName`.
pub const ROOT_USER_NAME: &str = "AWS ROOT USER";

/// What was removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    /// `true` for `DeactivateMFADevice`, `false` for `DeleteVirtualMFADevice`.
    pub deactivated: bool,
    /// The device's serial number (an ARN for a virtual device), when recorded.
    pub serial: Option<String>,
    /// The user it belonged to, when recorded (not for the root user).
    pub user_name: Option<String>,
    /// It was the root user's device.
    pub root: bool,
}

/// What was removed, if `event` is a successful MFA device deactivation or deletion.
pub fn removed(event: &Event, raw: Option<&Value>) -> Option<Removed> {
    let deactivated = match event.name.as_deref() {
        Some("DeactivateMFADevice") => true,
        Some("DeleteVirtualMFADevice") => false,
        _ => return None,
    };
    if event.source.as_deref() != Some(IAM) || event.failed() || !api_call(event) {
        return None;
    }
    let serial = text_of(raw, &["requestParameters", "serialNumber"]);
    let named = text_of(raw, &["requestParameters", "userName"]);
    let caller_is_root = event.principal.r#type.as_deref() == Some("Root");
    let root = named.is_some_and(|n| n.eq_ignore_ascii_case(ROOT_USER_NAME))
        || serial.is_some_and(|s| s.ends_with(":mfa/root-account-mfa-device"))
        || (caller_is_root && deactivated && named.is_none());
    Some(Removed {
        deactivated,
        serial: serial.map(str::to_owned),
        user_name: named
            .filter(|n| !n.eq_ignore_ascii_case(ROOT_USER_NAME))
            .map(str::to_owned),
        root,
    })
}

/// The finding, if `event` removed an MFA device.
pub fn detect(event: &Event, raw: Option<&Value>) -> Option<Finding> {
    let r = removed(event, raw)?;
    let account = event.account_or_unknown();
    let owner = match (&r.user_name, r.root) {
        (_, true) => "the root user".to_owned(),
        (Some(user), false) => format!("IAM user {user}"),
        (None, false) => "an unnamed user".to_owned(),
    };
    let device = r.serial.as_deref().unwrap_or("(serial not recorded)");
    let actor = event.actor();
    let (title, did) = if r.deactivated {
        (
            format!("MFA device of {owner} deactivated by {actor} in account {account}"),
            format!("deactivated MFA device {device} of {owner}"),
        )
    } else {
        (
            format!("Virtual MFA device {device} deleted by {actor} in account {account}"),
            format!("deleted virtual MFA device {device}"),
        )
    };
    let description = format!(
        "{} {did} in account {account}, region {}, {}. Until a device is enabled again, a \
         password alone signs in. Confirm with the owner that the device was replaced on \
         purpose and that a new one is enabled; if not, reset the password and enable MFA \
         again.",
        capitalize(&actor),
        region(event),
        event.origin(),
    );
    let mut resources = Vec::new();
    if r.root {
        resources.push(crate::iam_arn(event, "root"));
    } else if let Some(user) = &r.user_name {
        resources.push(crate::iam_arn(event, &format!("user/{user}")));
    }
    resources.extend(r.serial.clone());
    let subject = r
        .serial
        .clone()
        .or_else(|| r.root.then(|| "root".to_owned()))
        .or_else(|| r.user_name.clone())
        .unwrap_or_else(|| "unknown-device".to_owned());
    Some(
        Draft {
            rule_id: MFA_DEVICE_REMOVED,
            severity: if r.root {
                Severity::High
            } else {
                Severity::Medium
            },
            title,
            description,
            resources,
            subject,
            extra: json!({
                "serial_number": r.serial,
                "user_name": r.user_name,
                "root": r.root,
                "deactivated": r.deactivated,
            }),
        }
        .finish(event),
    )
}
