//! `aws.iam.role-trust-opened`: a role's trust policy lets everyone, or an outside account,
//! assume it.
//!
//! A successful `iam:UpdateAssumeRolePolicy` (`requestParameters.policyDocument`) or
//! `iam:CreateRole` (`requestParameters.assumeRolePolicyDocument`); the document is JSON
//! text, URL-encoded JSON text, or an object. The role is opened when an `Allow` statement
//! that allows `sts:AssumeRole` (by `Action`, wildcards included, or by a `NotAction` that
//! leaves it out) names as principal:
//! - everyone: `Principal: "*"`, `{"AWS": "*"}`, an ARN with `*` as its account, or any
//!   `NotPrincipal`; or
//! - an outside account: an account id or an ARN (`arn:aws:iam::<account>:root`, a user or
//!   role ARN) of an account that is neither the event's nor in the config's
//!   `trusted_accounts`;
//!
//! unless the statement has a condition that restricts who may assume it:
//! - `aws:PrincipalAccount` / `aws:SourceAccount` naming only trusted accounts (the event's
//!   own included), `aws:PrincipalArn` / `aws:SourceArn` naming only ARNs of such accounts;
//! - `aws:PrincipalOrgID` / `aws:PrincipalOrgPaths` (and their `Source` forms): any, or
//!   when the config lists `trusted_org_ids`, only those organizations;
//! - for a named outside account only, `sts:ExternalId`: the documented way to let a
//!   vendor's account in. For everyone it is no restriction: any AWS account that learns
//!   the value meets it.
//!
//! Operators that negate (`StringNotEquals`, `ArnNotLike`, ...) or test presence (`Null`)
//! restrict nothing here. Service (`Service`) and identity provider (`Federated`)
//! principals are not judged, nor are `Deny` statements (a deny that would close the role
//! again is rare in trust policies; this may over-report it).
//!
//! Panther's `AWS.IAM.BackdoorRole` reports an `UpdateAssumeRolePolicy` whose principal is
//! `*`, even with an `sts:ExternalId` condition, and nothing for a service principal or a
//! request without a document: the same here.
//!
//! Response: `iam.revoke-role-sessions(role)`: sessions issued before now stop working. It
//! does not close the trust policy (restore it from your infrastructure code); it ends what
//! the outside principal may already have started.

use std::collections::BTreeSet;

use trailwarden_plugin_sdk::json::{get_ci, policy_document};
use trailwarden_plugin_sdk::serde_json::{json, Value};
use trailwarden_plugin_sdk::{capitalize, Event, Finding, Severity};

use crate::{api_call, region, text_of, Draft, Settings, IAM, ROLE_TRUST_OPENED};

/// Who a statement lets in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Grantee {
    Everyone,
    /// A 12-digit account id.
    Account(String),
}

/// A role opened by a trust policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The role's name, when recorded (`requestParameters.roleName`).
    pub role_name: Option<String>,
    /// The role's ARN as the response gives it (`CreateRole`), else built from its name
    /// (without the role's path, which the request does not give).
    pub role_arn: Option<String>,
    /// Some statement lets everyone in.
    pub everyone: bool,
    /// The outside accounts let in, sorted.
    pub outside_accounts: Vec<String>,
}

/// The role and who it is opened to, if `event` is a successful `CreateRole` or
/// `UpdateAssumeRolePolicy` whose trust policy opens it.
pub fn opened(event: &Event, raw: Option<&Value>, settings: &Settings) -> Option<Opened> {
    let document_key = match event.name.as_deref() {
        Some("UpdateAssumeRolePolicy") => "policyDocument",
        Some("CreateRole") => "assumeRolePolicyDocument",
        _ => return None,
    };
    if event.source.as_deref() != Some(IAM) || event.failed() || !api_call(event) {
        return None;
    }
    let raw = raw?;
    let params = raw.get("requestParameters")?;
    let document = policy_document(get_ci(params, document_key)?)?;
    let own = event.account_or_principal_account();
    let grantees = open_grantees(&document, own, settings);
    if grantees.is_empty() {
        return None;
    }
    let role_name = text_of(Some(raw), &["requestParameters", "roleName"])
        .or_else(|| text_of(Some(raw), &["responseElements", "role", "roleName"]))
        .map(str::to_owned);
    let role_arn = text_of(Some(raw), &["responseElements", "role", "arn"])
        .map(str::to_owned)
        .or_else(|| {
            Some(crate::iam_arn(
                event,
                &format!("role/{}", role_name.as_deref()?),
            ))
        });
    Some(Opened {
        role_name,
        role_arn,
        everyone: grantees.contains(&Grantee::Everyone),
        outside_accounts: grantees
            .into_iter()
            .filter_map(|g| match g {
                Grantee::Account(a) => Some(a),
                Grantee::Everyone => None,
            })
            .collect(),
    })
}

/// The grantees of the document's unrestricted `Allow ... sts:AssumeRole` statements that
/// are not `own` or trusted.
fn open_grantees(document: &Value, own: Option<&str>, settings: &Settings) -> BTreeSet<Grantee> {
    let mut open = BTreeSet::new();
    for statement in statements(document) {
        let allows = get_ci(statement, "Effect")
            .and_then(Value::as_str)
            .is_some_and(|e| e.eq_ignore_ascii_case("Allow"));
        if !allows || !allows_assume_role(statement) {
            continue;
        }
        for grantee in grantees(statement) {
            let outside = match &grantee {
                Grantee::Everyone => true,
                Grantee::Account(a) => !settings.trusts_account(own, a),
            };
            if outside && !restricted(statement, &grantee, own, settings) {
                open.insert(grantee);
            }
        }
    }
    open
}

/// The statements of a policy document (`Statement` is an object or a list).
fn statements(document: &Value) -> Vec<&Value> {
    match get_ci(document, "Statement") {
        Some(Value::Array(list)) => list.iter().filter(|s| s.is_object()).collect(),
        Some(s @ Value::Object(_)) => vec![s],
        _ => Vec::new(),
    }
}

/// The strings of a value that is a string or a list of them (numbers written out).
fn strings(v: Option<&Value>) -> Vec<String> {
    let one = |v: &Value| trailwarden_plugin_sdk::json::text(v);
    match v {
        Some(Value::Array(list)) => list.iter().filter_map(one).collect(),
        Some(v) => one(v).into_iter().collect(),
        None => Vec::new(),
    }
}

/// Whether the statement's actions include `sts:AssumeRole`.
fn allows_assume_role(statement: &Value) -> bool {
    let matches = |patterns: Vec<String>| {
        patterns
            .iter()
            .any(|p| glob_match(&p.to_ascii_lowercase(), "sts:assumerole"))
    };
    if let Some(actions) = get_ci(statement, "Action") {
        matches(strings(Some(actions)))
    } else if let Some(not_actions) = get_ci(statement, "NotAction") {
        !matches(strings(Some(not_actions)))
    } else {
        // IAM rejects a statement without either; if it got through, assume the worst.
        true
    }
}

/// `*` (any run) and `?` (one character) wildcards, as IAM matches actions.
fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Who the statement's `Principal` (AWS principals only) or `NotPrincipal` lets in.
fn grantees(statement: &Value) -> Vec<Grantee> {
    if get_ci(statement, "NotPrincipal").is_some() {
        // Allow with NotPrincipal: everyone but the listed.
        return vec![Grantee::Everyone];
    }
    match get_ci(statement, "Principal") {
        Some(Value::String(s)) if s.trim() == "*" => vec![Grantee::Everyone],
        Some(p @ Value::Object(_)) => strings(get_ci(p, "AWS"))
            .iter()
            .filter_map(|p| grantee(p))
            .collect(),
        _ => Vec::new(),
    }
}

/// One AWS principal: `*`, an account id, or an ARN (its account, `*` meaning everyone).
/// Unique ids (`AIDA...`, `AROA...`, left when a principal was deleted) name no account.
fn grantee(principal: &str) -> Option<Grantee> {
    let p = principal.trim();
    if p == "*" {
        return Some(Grantee::Everyone);
    }
    if is_account_id(p) {
        return Some(Grantee::Account(p.to_owned()));
    }
    let account = arn_account(p)?;
    if account.contains(['*', '?']) {
        Some(Grantee::Everyone)
    } else if is_account_id(account) {
        Some(Grantee::Account(account.to_owned()))
    } else {
        None
    }
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// The account field of an ARN (`arn:partition:service:region:account:resource`).
fn arn_account(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    (parts.next()? == "arn").then_some(())?;
    parts.nth(3).filter(|a| !a.is_empty())
}

/// Whether a condition of the statement restricts who may assume the role, for `grantee`.
fn restricted(
    statement: &Value,
    grantee: &Grantee,
    own: Option<&str>,
    settings: &Settings,
) -> bool {
    let Some(Value::Object(conditions)) = get_ci(statement, "Condition") else {
        return false;
    };
    let trusted_account = |a: &str| is_account_id(a) && settings.trusts_account(own, a);
    for (operator, block) in conditions {
        let op = operator.to_ascii_lowercase();
        let op = op
            .strip_prefix("foranyvalue:")
            .or_else(|| op.strip_prefix("forallvalues:"))
            .unwrap_or(&op);
        if op.contains("not") || op.starts_with("null") {
            continue;
        }
        let Value::Object(block) = block else {
            continue;
        };
        for (key, values) in block {
            let values = strings(Some(values));
            if values.is_empty() {
                continue;
            }
            let restricts = match key.to_ascii_lowercase().as_str() {
                "aws:principalaccount" | "aws:sourceaccount" => {
                    values.iter().all(|v| trusted_account(v.trim()))
                }
                "aws:principalarn" | "aws:sourcearn" => values
                    .iter()
                    .all(|v| arn_account(v.trim()).is_some_and(trusted_account)),
                "aws:principalorgid" | "aws:sourceorgid" => {
                    settings.trusted_org_ids.is_empty()
                        || values
                            .iter()
                            .all(|v| settings.trusted_org_ids.iter().any(|o| o == v.trim()))
                }
                "aws:principalorgpaths" | "aws:sourceorgpaths" => {
                    settings.trusted_org_ids.is_empty()
                        || values.iter().all(|v| {
                            let org = v.trim().split('/').next().unwrap_or("");
                            settings.trusted_org_ids.iter().any(|o| o == org)
                        })
                }
                "sts:externalid" => matches!(grantee, Grantee::Account(_)),
                _ => false,
            };
            if restricts {
                return true;
            }
        }
    }
    false
}

/// The finding, if `event` opened a role's trust policy.
pub fn detect(event: &Event, raw: Option<&Value>, settings: &Settings) -> Option<Finding> {
    let o = opened(event, raw, settings)?;
    let account = event.account_or_unknown();
    let role = o.role_name.as_deref().unwrap_or("(name not recorded)");
    let to = match (o.everyone, o.outside_accounts.as_slice()) {
        (true, []) => "everyone".to_owned(),
        (true, accounts) => format!("everyone (and account {})", accounts.join(", ")),
        (false, [one]) => format!("outside account {one}"),
        (false, accounts) => format!("outside accounts {}", accounts.join(", ")),
    };
    let how = if event.name.as_deref() == Some("CreateRole") {
        "created role"
    } else {
        "updated the trust policy of role"
    };
    let actor = event.actor();
    let title =
        format!("Role {role} can be assumed by {to}: trust set by {actor} in account {account}");
    let partner = if o.outside_accounts.is_empty() {
        ""
    } else {
        " (or, if the account is a partner's, add it to the plugin's trusted_accounts)"
    };
    let description = format!(
        "{} {how} {role} in account {account}, region {}, {}, so that {to} can assume it \
         with no condition restricting who. Anyone it lets in gets the role's permissions. \
         Restore the trust policy from your infrastructure code{partner}, then review what \
         sessions of the role did since the change.",
        capitalize(&actor),
        region(event),
        event.origin(),
    );
    Some(
        Draft {
            rule_id: ROLE_TRUST_OPENED,
            severity: Severity::High,
            title,
            description,
            resources: o.role_arn.clone().into_iter().collect(),
            subject: o
                .role_name
                .clone()
                .unwrap_or_else(|| "unknown-role".to_owned()),
            extra: json!({
                "role_name": o.role_name,
                "role_arn": o.role_arn,
                "everyone": o.everyone,
                "outside_accounts": o.outside_accounts,
                "trusted_accounts": settings.trusted_accounts,
            }),
        }
        .finish(event),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use trailwarden_plugin_sdk::serde_json::json;

    const OWN: Option<&str> = Some("111122223333");

    fn open(statement: Value, settings: &Settings) -> Vec<Grantee> {
        let doc = json!({"Version": "2012-10-17", "Statement": [statement]});
        open_grantees(&doc, OWN, settings).into_iter().collect()
    }

    fn account(a: &str) -> Grantee {
        Grantee::Account(a.to_owned())
    }

    #[test]
    fn globs() {
        for (p, yes) in [
            ("sts:assumerole", true),
            ("sts:*", true),
            ("*", true),
            ("sts:assume*", true),
            ("sts:assumerol?", true),
            ("sts:assumerolewithsaml", false),
            ("sts:tagsession", false),
            ("s3:*", false),
        ] {
            assert_eq!(glob_match(p, "sts:assumerole"), yes, "{p}");
        }
    }

    #[test]
    fn principals() {
        let s = Settings::default();
        let allow = |principal: Value| {
            open(
                json!({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}),
                &s,
            )
        };
        assert_eq!(allow(json!("*")), [Grantee::Everyone]);
        assert_eq!(allow(json!({"AWS": "*"})), [Grantee::Everyone]);
        assert_eq!(
            allow(json!({"AWS": "arn:aws:iam::*:root"})),
            [Grantee::Everyone]
        );
        assert_eq!(
            allow(
                json!({"AWS": ["arn:aws:iam::444455556666:root", "111122223333", "arn:aws:iam::111122223333:role/x"]})
            ),
            [account("444455556666")]
        );
        assert_eq!(
            allow(json!({"AWS": "999988887777"})),
            [account("999988887777")]
        );
        assert_eq!(
            allow(json!({"AWS": "arn:aws-cn:sts::999988887777:assumed-role/r/s"})),
            [account("999988887777")]
        );
        assert!(allow(json!({"AWS": "AROAEXAMPLEUNIQUEID"})).is_empty());
        assert!(allow(json!({"Service": "ec2.amazonaws.com"})).is_empty());
        assert!(
            allow(json!({"Federated": "arn:aws:iam::111122223333:saml-provider/x"})).is_empty()
        );
        let not_principal = json!({"Effect": "Allow", "NotPrincipal": {"AWS": "111122223333"}, "Action": "sts:AssumeRole"});
        assert_eq!(open(not_principal, &s), [Grantee::Everyone]);
    }

    #[test]
    fn actions_and_effects() {
        let s = Settings::default();
        let with = |extra: Value| {
            let mut st = json!({"Effect": "Allow", "Principal": "*"});
            st.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            open(st, &s)
        };
        assert_eq!(
            with(json!({"Action": ["sts:TagSession", "sts:Assume*"]})).len(),
            1
        );
        assert!(with(json!({"Action": "sts:AssumeRoleWithWebIdentity"})).is_empty());
        assert!(with(json!({"NotAction": "sts:AssumeRole"})).is_empty());
        assert_eq!(with(json!({"NotAction": "sts:TagSession"})).len(), 1);
        assert_eq!(with(json!({})).len(), 1);
        let deny = json!({"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole"});
        assert!(open(deny, &s).is_empty());
    }

    #[test]
    fn conditions() {
        let mut s = Settings::default();
        let cond = |principal: Value, condition: Value, s: &Settings| {
            open(
                json!({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole", "Condition": condition}),
                s,
            )
        };
        let star = || json!({"AWS": "*"});
        let vendor = || json!({"AWS": "arn:aws:iam::444455556666:root"});
        let external_id = || json!({"StringEquals": {"sts:ExternalId": "12345"}});
        // ExternalId: a vendor's account, not everyone.
        assert!(cond(vendor(), external_id(), &s).is_empty());
        assert_eq!(cond(star(), external_id(), &s), [Grantee::Everyone]);
        // Organization conditions: any, unless the organizations are configured.
        let org = || json!({"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}});
        assert!(cond(star(), org(), &s).is_empty());
        let paths = || json!({"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": ["o-a1b2c3d4e5/r-ab12/*"]}});
        assert!(cond(star(), paths(), &s).is_empty());
        // Account and ARN conditions: only trusted accounts restrict.
        let own_account = json!({"StringEquals": {"aws:PrincipalAccount": "111122223333"}});
        assert!(cond(star(), own_account, &s).is_empty());
        let their_account =
            json!({"StringEquals": {"aws:PrincipalAccount": ["111122223333", "999988887777"]}});
        assert_eq!(cond(star(), their_account.clone(), &s), [Grantee::Everyone]);
        let arn = json!({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/ci-*"}});
        assert!(cond(star(), arn, &s).is_empty());
        let any_arn = json!({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/ci-*"}});
        assert_eq!(cond(star(), any_arn, &s), [Grantee::Everyone]);
        // Negations and presence tests restrict nothing.
        let not = json!({"StringNotEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}});
        assert_eq!(cond(star(), not, &s), [Grantee::Everyone]);
        let null = json!({"Null": {"aws:PrincipalOrgID": "false"}});
        assert_eq!(cond(star(), null, &s), [Grantee::Everyone]);
        // Configured trust.
        s.trusted_accounts = vec!["999988887777".into(), "444455556666".into()];
        assert!(cond(star(), their_account, &s).is_empty());
        assert!(open(
            json!({"Effect": "Allow", "Principal": vendor(), "Action": "sts:AssumeRole"}),
            &s
        )
        .is_empty());
        s.trusted_org_ids = vec!["o-trusted".into()];
        assert_eq!(cond(star(), org(), &s), [Grantee::Everyone]);
        assert_eq!(cond(star(), paths(), &s), [Grantee::Everyone]);
        let trusted_org = json!({"StringEquals": {"aws:PrincipalOrgID": "o-trusted"}});
        assert!(cond(star(), trusted_org, &s).is_empty());
    }
}
