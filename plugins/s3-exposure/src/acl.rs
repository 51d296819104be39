//! The grants to everyone (`AllUsers`) or to any AWS account (`AuthenticatedUsers`) that a
//! `PutBucketAcl` request makes, in any of the three ways S3 accepts them:
//! - an access control policy in the body: `requestParameters.AccessControlPolicy.
//!   AccessControlList.Grant[]`, each `{"Grantee": {"URI": ...}, "Permission": ...}` (found
//!   wherever a `Grantee` appears, so that nesting and key case do not matter);
//! - grant headers: `x-amz-grant-read`, `-write`, `-read-acp`, `-write-acp`, `-full-control`,
//!   each a list like `uri="http://acs.amazonaws.com/groups/global/AllUsers", id="..."`;
//! - a canned ACL header: `x-amz-acl` `public-read`, `public-read-write` or
//!   `authenticated-read`.

use trailwarden_plugin_sdk::json::get_ci;
use trailwarden_plugin_sdk::serde_json::Value;

/// The URI path of the group of everyone, signed or not.
pub const ALL_USERS: &str = "acs.amazonaws.com/groups/global/AllUsers";
/// The URI path of the group of every AWS account.
pub const AUTHENTICATED_USERS: &str = "acs.amazonaws.com/groups/global/AuthenticatedUsers";

const GRANT_HEADERS: &[(&str, &str)] = &[
    ("x-amz-grant-read", "READ"),
    ("x-amz-grant-write", "WRITE"),
    ("x-amz-grant-read-acp", "READ_ACP"),
    ("x-amz-grant-write-acp", "WRITE_ACP"),
    ("x-amz-grant-full-control", "FULL_CONTROL"),
];

/// One public grant: the group (`AllUsers` or `AuthenticatedUsers`) and the permission.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PublicGrant {
    pub group: &'static str,
    pub permission: String,
}

impl std::fmt::Display for PublicGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.group, self.permission)
    }
}

/// The public grants of a `PutBucketAcl` request's parameters, sorted, without repeats.
pub fn public_grants(params: &Value) -> Vec<PublicGrant> {
    let mut grants = Vec::new();
    body_grants(params, 0, &mut grants);
    for (header, permission) in GRANT_HEADERS {
        for value in strings(get_ci(params, header)) {
            for group in groups_in(&value) {
                grants.push(PublicGrant {
                    group,
                    permission: (*permission).to_owned(),
                });
            }
        }
    }
    for canned in strings(get_ci(params, "x-amz-acl")) {
        let (group, permissions): (&'static str, &[&str]) =
            match canned.trim().to_ascii_lowercase().as_str() {
                "public-read" => ("AllUsers", &["READ"]),
                "public-read-write" => ("AllUsers", &["READ", "WRITE"]),
                "authenticated-read" => ("AuthenticatedUsers", &["READ"]),
                _ => continue,
            };
        for permission in permissions {
            grants.push(PublicGrant {
                group,
                permission: (*permission).to_owned(),
            });
        }
    }
    grants.sort();
    grants.dedup();
    grants
}

/// Grants of an access control policy: every object with a `Grantee` whose `URI` is a public
/// group. `depth` bounds the walk (CloudTrail nests the list three levels down).
fn body_grants(v: &Value, depth: usize, out: &mut Vec<PublicGrant>) {
    if depth > 8 {
        return;
    }
    match v {
        Value::Object(map) => {
            if let Some(grantee) = get_ci(v, "Grantee") {
                let uri = get_ci(grantee, "URI").and_then(Value::as_str).unwrap_or("");
                let permission = get_ci(v, "Permission")
                    .and_then(Value::as_str)
                    .filter(|p| !p.trim().is_empty())
                    .unwrap_or("(unknown permission)");
                for group in groups_in(uri) {
                    out.push(PublicGrant {
                        group,
                        permission: permission.trim().to_owned(),
                    });
                }
            }
            for (key, child) in map {
                if !key.eq_ignore_ascii_case("Grantee") {
                    body_grants(child, depth + 1, out);
                }
            }
        }
        Value::Array(list) => {
            for child in list {
                body_grants(child, depth + 1, out);
            }
        }
        _ => {}
    }
}

/// The public groups a URI or a grant header names.
fn groups_in(text: &str) -> Vec<&'static str> {
    let mut groups = Vec::new();
    if text.contains(ALL_USERS) {
        groups.push("AllUsers");
    }
    if text.contains(AUTHENTICATED_USERS) {
        groups.push("AuthenticatedUsers");
    }
    groups
}

/// A header value: a string or a list of strings (CloudTrail writes S3 headers as lists).
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
    use trailwarden_plugin_sdk::serde_json::json;

    fn names(grants: &[PublicGrant]) -> Vec<String> {
        grants.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn grants_in_the_body_headers_and_canned_acls() {
        let body = json!({"AccessControlPolicy": {"AccessControlList": {"Grant": [
            {"Grantee": {"ID": "abc", "xsi:type": "CanonicalUser"}, "Permission": "FULL_CONTROL"},
            {"Grantee": {"URI": "http://acs.amazonaws.com/groups/global/AllUsers"}, "Permission": "READ"},
            {"Grantee": {"URI": "http://acs.amazonaws.com/groups/s3/LogDelivery"}, "Permission": "WRITE"}]}}});
        assert_eq!(names(&public_grants(&body)), ["AllUsers READ"]);
        let single = json!({"AccessControlPolicy": {"AccessControlList": {"Grant":
            {"Grantee": {"uri": "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"}, "permission": "WRITE_ACP"}}}});
        assert_eq!(
            names(&public_grants(&single)),
            ["AuthenticatedUsers WRITE_ACP"]
        );
        let headers = json!({"x-amz-grant-read": ["uri=\"http://acs.amazonaws.com/groups/global/AllUsers\", id=\"abc\""],
            "x-amz-grant-full-control": "id=\"abc\""});
        assert_eq!(names(&public_grants(&headers)), ["AllUsers READ"]);
        assert_eq!(
            names(&public_grants(&json!({"x-amz-acl": ["public-read-write"]}))),
            ["AllUsers READ", "AllUsers WRITE"]
        );
        assert_eq!(
            names(&public_grants(&json!({"x-amz-acl": "authenticated-read"}))),
            ["AuthenticatedUsers READ"]
        );
        for private in [
            json!({"x-amz-acl": ["private"]}),
            json!({"x-amz-acl": ["bucket-owner-full-control"]}),
            json!({"acl": [""]}),
            json!(null),
        ] {
            assert!(public_grants(&private).is_empty(), "{private}");
        }
    }
}
