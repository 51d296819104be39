//! Whether a resource policy grants access to anyone, judged statement by statement: S3's
//! own meaning of "public" for a bucket policy, which IAM Access Analyzer applies to the
//! resource policies of the other services too (ECR, KMS, SQS, SNS, Secrets Manager,
//! OpenSearch...). Shared by `s3-exposure` and `resource-exposure`.
//!
//! A statement is public when it allows (`Effect: Allow`) a wildcard principal (`"*"`, or a
//! `"*"` under `AWS`, `CanonicalUser`, ...; or any `NotPrincipal`) and no condition pins the
//! caller down to fixed values of a restricting key. Conditions of a statement are ANDed,
//! so one restricting condition suffices; it restricts when:
//! - its key is one S3 (and IAM Access Analyzer) accepts as limiting the caller:
//!   [`RESTRICTING_KEYS`];
//! - its operator requires a match (`StringEquals`, `StringLike`, `ArnEquals`, `ArnLike`,
//!   their `IgnoreCase`/`ForAnyValue:` forms, `IpAddress` for `aws:SourceIp`). `...IfExists`
//!   passes when the key is absent (a call from the internet has no `aws:SourceVpce`), and
//!   `ForAllValues:` passes on an empty set, so neither restricts; negated operators do not
//!   either;
//! - every value is fixed: a non-empty string without `*` or `?`, and for `aws:SourceIp` not
//!   a `/0` range.

use serde_json::{json, Value};

use crate::json::{get_ci, policy_document};

/// Condition keys that, with fixed values, limit who can use a grant to a principal `"*"`
/// (lower case).
pub const RESTRICTING_KEYS: &[&str] = &[
    "aws:sourceip",
    "aws:sourcearn",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourceowner",
    "aws:sourceaccount",
    "aws:sourceorgid",
    "aws:sourceorgpaths",
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:userid",
    // KMS: the account of the caller (default key policies that allow a service, e.g. EBS,
    // for every principal of one account).
    "kms:calleraccount",
    "s3:x-amz-server-side-encryption-aws-kms-key-id",
    "s3:dataaccesspointarn",
    "s3:dataaccesspointaccount",
];

/// Operators that require the key to match one of the values (lower case, without a
/// `ForAnyValue:` prefix).
const MATCHING_OPERATORS: &[&str] = &[
    "stringequals",
    "stringequalsignorecase",
    "stringlike",
    "arnequals",
    "arnlike",
];

/// One statement that grants access to anyone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicStatement {
    /// Its `Sid`, if it has one.
    pub sid: Option<String>,
    /// Its `Action` (or `NotAction`, prefixed `not `) as written.
    pub actions: Vec<String>,
    /// Granted through `NotPrincipal` (everyone but the listed principals).
    pub not_principal: bool,
}

/// The statements of `policy` (a parsed policy document) that grant access to anyone.
pub fn public_statements(policy: &Value) -> Vec<PublicStatement> {
    let statements: Vec<&Value> = match get_ci(policy, "Statement") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => Vec::new(),
    };
    statements
        .into_iter()
        .filter_map(public_statement)
        .collect()
}

/// The public statements of a policy as CloudTrail records it: an object, JSON text or
/// URL-encoded JSON text ([`policy_document`]); none when it is none of these (an empty or
/// unreadable policy cannot be judged).
pub fn public_statements_in(recorded: &Value) -> Vec<PublicStatement> {
    policy_document(recorded)
        .map(|p| public_statements(&p))
        .unwrap_or_default()
}

impl PublicStatement {
    /// One line for a finding's description: `statement Web grants any principal: s3:GetObject`.
    pub fn describe(&self) -> String {
        let name = match &self.sid {
            Some(sid) => format!("statement {sid}"),
            None => "a statement without Sid".to_owned(),
        };
        let who = if self.not_principal {
            "everyone but the principals it lists"
        } else {
            "any principal"
        };
        let actions = if self.actions.is_empty() {
            "no action given".to_owned()
        } else {
            self.actions.join(", ")
        };
        format!("{name} grants {who}: {actions}")
    }

    /// Its facts for a finding's context.
    pub fn to_json(&self) -> Value {
        json!({"sid": self.sid, "actions": self.actions, "not_principal": self.not_principal})
    }
}

fn public_statement(st: &Value) -> Option<PublicStatement> {
    let effect = get_ci(st, "Effect").and_then(Value::as_str)?;
    if !effect.trim().eq_ignore_ascii_case("allow") {
        return None;
    }
    let not_principal = get_ci(st, "NotPrincipal").is_some_and(|p| !p.is_null());
    if !not_principal && !get_ci(st, "Principal").is_some_and(is_wildcard_principal) {
        return None;
    }
    if get_ci(st, "Condition").is_some_and(restricts) {
        return None;
    }
    let (key, prefix) = match get_ci(st, "Action") {
        Some(_) => ("Action", ""),
        None => ("NotAction", "not "),
    };
    Some(PublicStatement {
        sid: get_ci(st, "Sid")
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .map(str::to_owned),
        actions: strings(get_ci(st, key))
            .into_iter()
            .map(|a| format!("{prefix}{a}"))
            .collect(),
        not_principal,
    })
}

/// `"*"`, or an object with `"*"` under some key (`{"AWS": "*"}`, `{"AWS": ["*"]}`).
pub fn is_wildcard_principal(principal: &Value) -> bool {
    match principal {
        Value::String(s) => s.trim() == "*",
        Value::Object(map) => map
            .values()
            .any(|v| strings(Some(v)).iter().any(|s| s.trim() == "*")),
        _ => false,
    }
}

/// Whether a statement's `Condition` block pins the caller down (see the module docs).
pub fn restricts(condition: &Value) -> bool {
    let Some(operators) = condition.as_object() else {
        return false;
    };
    operators.iter().any(|(operator, block)| {
        let op = operator.trim().to_ascii_lowercase();
        if op.ends_with("ifexists") || op.starts_with("forallvalues:") {
            return false;
        }
        let op = op.strip_prefix("foranyvalue:").unwrap_or(&op);
        let Some(keys) = block.as_object() else {
            return false;
        };
        keys.iter().any(|(key, values)| {
            let key = key.trim().to_ascii_lowercase();
            let fits = if key == "aws:sourceip" {
                op == "ipaddress"
            } else {
                MATCHING_OPERATORS.contains(&op)
            };
            fits && RESTRICTING_KEYS.contains(&key.as_str()) && fixed(&key, values)
        })
    })
}

/// Whether every value is a fixed one (see the module docs); an empty list is not.
fn fixed(key: &str, values: &Value) -> bool {
    let values = match values {
        Value::Array(list) => list.iter().collect::<Vec<_>>(),
        one => vec![one],
    };
    !values.is_empty()
        && values.iter().all(|v| {
            let Some(s) = v.as_str().map(str::trim) else {
                // Account ids written as numbers are fixed too.
                return v.is_number();
            };
            let any_address = key == "aws:sourceip" && s.ends_with("/0");
            !s.is_empty() && !s.contains(['*', '?']) && !any_address
        })
}

/// A string or a list of strings as owned strings (anything else: none).
fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(statement: Value) -> bool {
        !public_statements(&json!({"Statement": [statement]})).is_empty()
    }

    #[test]
    fn wildcard_principals_are_public_unless_pinned_down() {
        let base = json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"});
        assert!(public(base.clone()));
        assert!(public(
            json!({"Effect": "Allow", "Principal": {"AWS": ["*"]}})
        ));
        assert!(public(
            json!({"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::1:root"}})
        ));
        assert!(!public(
            json!({"Effect": "Deny", "Principal": "*", "Action": "s3:*"})
        ));
        assert!(!public(
            json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}})
        ));
        assert!(!public(
            json!({"Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"}})
        ));
        let with = |condition: Value| {
            let mut st = base.clone();
            st["Condition"] = condition;
            public(st)
        };
        assert!(!with(
            json!({"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}})
        ));
        assert!(!with(
            json!({"IpAddress": {"aws:SourceIp": ["192.0.2.0/24"]}})
        ));
        assert!(!with(
            json!({"ForAnyValue:StringEquals": {"AWS:PrincipalOrgID": ["o-abc"]}})
        ));
        assert!(!with(
            json!({"StringEquals": {"aws:SourceAccount": 111122223333u64}})
        ));
        // Conditions that do not pin the caller down.
        assert!(with(json!({"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}})));
        assert!(with(
            json!({"StringEqualsIfExists": {"aws:SourceVpce": "vpce-1a2b3c4d"}})
        ));
        assert!(with(
            json!({"StringNotEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}})
        ));
        assert!(with(json!({"StringLike": {"aws:SourceVpc": "vpc-*"}})));
        assert!(with(json!({"StringEquals": {"aws:SourceVpce": []}})));
        assert!(with(json!({"Bool": {"aws:SecureTransport": "true"}})));
        assert!(with(
            json!({"ForAllValues:StringEquals": {"aws:PrincipalOrgID": "o-abc"}})
        ));
        assert!(with(json!({"StringEquals": {"s3:prefix": "public/"}})));
    }

    #[test]
    fn statements_are_reported_with_their_sid_and_actions() {
        let policy = json!({"Version": "2012-10-17", "Statement": {"Sid": "Public",
            "Effect": "Allow", "Principal": "*", "NotAction": ["s3:Delete*"]}});
        assert_eq!(
            public_statements(&policy),
            vec![PublicStatement {
                sid: Some("Public".into()),
                actions: vec!["not s3:Delete*".into()],
                not_principal: false,
            }]
        );
        assert!(public_statements(&json!({"Statement": "x"})).is_empty());
        assert!(public_statements(&json!("text")).is_empty());
    }

    #[test]
    fn recorded_policies_are_read_in_every_encoding_and_described() {
        let doc = json!({"Statement": [{"Sid": "Web", "Effect": "Allow", "Principal": "*",
            "Action": "s3:GetObject"}]});
        let found = public_statements_in(&json!(doc.to_string()));
        assert_eq!(found, public_statements_in(&doc));
        assert_eq!(
            found[0].describe(),
            "statement Web grants any principal: s3:GetObject"
        );
        assert_eq!(found[0].to_json()["sid"], "Web");
        let unnamed = PublicStatement {
            sid: None,
            actions: Vec::new(),
            not_principal: true,
        };
        assert_eq!(
            unnamed.describe(),
            "a statement without Sid grants everyone but the principals it lists: no action given"
        );
        assert!(public_statements_in(&json!("")).is_empty());
        assert!(public_statements_in(&json!("invalid-json-policy")).is_empty());
        assert!(public_statements_in(&Value::Null).is_empty());
    }

    #[test]
    fn conditions_of_other_services_pin_the_caller_down_too() {
        let with = |condition: Value| {
            public(json!({"Effect": "Allow", "Principal": {"AWS": "*"},
                "Action": "sqs:SendMessage", "Condition": condition}))
        };
        // SNS and SQS policies for S3 or CloudWatch events: the source's ARN or account.
        assert!(!with(
            json!({"ArnLike": {"aws:SourceArn": "arn:aws:s3:::logs-bucket"}})
        ));
        assert!(!with(
            json!({"StringEquals": {"AWS:SourceOwner": "111122223333"}})
        ));
        // KMS's default "through a service, for the principals of this account" statement.
        assert!(!with(
            json!({"StringEquals": {"kms:CallerAccount": "111122223333",
            "kms:ViaService": "ec2.us-east-1.amazonaws.com"}})
        ));
        assert!(with(
            json!({"StringEquals": {"kms:ViaService": "ec2.us-east-1.amazonaws.com"}})
        ));
        // A private address range is still a fixed range.
        assert!(!with(
            json!({"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "172.16.0.0/12"]}})
        ));
        // Only some of the conditions restrict: the statement is still pinned (AND).
        assert!(!with(json!({"StringEquals": {"aws:PrincipalOrgID": "o-1",
            "aws:SourceVpc": "vpc-1"}, "Bool": {"aws:SecureTransport": "true"}})));
        // A wildcard ARN is not a fixed one; IpAddress on another key restricts nothing.
        assert!(with(
            json!({"ArnLike": {"aws:SourceArn": "arn:aws:s3:::*"}})
        ));
        assert!(with(
            json!({"IpAddress": {"aws:VpcSourceIp": "10.0.0.0/8"}})
        ));
    }
}
