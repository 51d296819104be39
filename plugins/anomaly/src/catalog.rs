//! The rule catalog: ids, the default sensitive APIs (with the Elastic and Panther rules
//! they come from), and each rule's title, ATT&CK techniques, tuple or key, window and
//! runbook.

use trailwarden_plugin_sdk::capability::NOTIFY_SEND;
use trailwarden_plugin_sdk::{Rule, Severity};

use crate::Settings;

/// A principal made an IAM write call it never made before.
pub const FIRST_IAM_WRITE: &str = "aws.iam.first-write-by-principal";
/// A principal signed in to the console from a network it never signed in from.
pub const NEW_SIGNIN_NETWORK: &str = "aws.console.signin-from-new-network";
/// A principal called a sensitive API for the first time.
pub const SENSITIVE_FIRST_CALL: &str = "aws.api.sensitive-first-call";
/// A long-term access key (AKIA) used from a network it was never used from.
pub const ACCESS_KEY_NEW_NETWORK: &str = "aws.access-key.new-network";
/// A long-term identity used a user-agent family it never used.
pub const NEW_USER_AGENT_FAMILY: &str = "aws.principal.new-user-agent-family";
/// A long-term identity acted in a region it never acted in.
pub const NEW_REGION: &str = "aws.principal.new-region";
/// A long-term identity called a service it never called.
pub const NEW_SERVICE: &str = "aws.principal.new-service";
/// A role assumed a role it never assumed before (role chaining).
pub const NEW_ROLE_CHAIN: &str = "aws.sts.new-role-chain";
/// A long-term identity's call rate burst above its own baseline.
pub const CALL_BURST: &str = "aws.principal.call-rate-burst";
/// A principal's failed calls burst above its own baseline.
pub const ERROR_BURST: &str = "aws.principal.error-rate-burst";
/// Failed console sign-ins of one user burst above its baseline.
pub const SIGNIN_FAILURE_BURST: &str = "aws.console.signin-failure-burst";
/// A principal's secret retrievals burst above its baseline.
pub const SECRETS_BURST: &str = "aws.secretsmanager.retrieval-burst";

/// A CloudTrail Insights event started (an API's call or error rate off its baseline).
pub const INSIGHT: &str = "aws.cloudtrail.insight";
/// A GuardDuty finding arrived through EventBridge.
pub const GUARDDUTY_FINDING: &str = "aws.guardduty.finding";

/// The default `sensitive_apis` (`service:EventName`), each with the rules it comes from:
/// Elastic's `elastic/detection-rules` (`rules/integrations/aws/*.toml`) and Panther's
/// CloudTrail rules (by rule id).
pub const DEFAULT_SENSITIVE_APIS: &[(&str, &str)] = &[
    ("secretsmanager:GetSecretValue", "Elastic credential_access_new_terms_secretsmanager_getsecretvalue (new_terms); Panther AWS.SecretsManager.RetrieveSecrets"),
    ("secretsmanager:BatchGetSecretValue", "Panther AWS.SecretsManager.BatchRetrieveSecrets"),
    ("ssm:GetParameter", "Elastic credential_access_retrieve_secure_string_parameters_via_ssm; Panther AWS.SSM.DecryptSSMParams"),
    ("ssm:GetParameters", "Elastic credential_access_retrieve_secure_string_parameters_via_ssm; Panther AWS.SSM.DecryptSSMParams"),
    ("ssm:SendCommand", "Panther AWS.SSM.DistributedCommand"),
    ("ec2:GetPasswordData", "Elastic credential_access_aws_getpassword_for_ec2_instance; Panther AWS.EC2.ManyPasswordReadAttempts"),
    ("ec2:DescribeInstanceAttribute", "Panther AWS.EC2.DownloadInstanceUserData"),
    ("ec2:ModifySnapshotAttribute", "Panther AWS.CloudTrail.SnapshotMadePublic"),
    ("ec2:ModifyImageAttribute", "Panther AWS.CloudTrail.AMIModifiedForPublicAccess"),
    ("ec2:CreateTrafficMirrorSession", "Panther AWS.EC2.Traffic.Mirroring"),
    ("ec2:EnableSerialConsoleAccess", "Elastic defense_evasion_ec2_serial_console_access_enabled"),
    ("sts:GetFederationToken", "Elastic defense_evasion_sts_get_federation_token, credential_access_sts_get_federation_token_by_iam_user"),
    ("sts:GetSessionToken", "Panther AWS.STS.GetSessionToken.Misuse"),
    ("sts:GetCallerIdentity", "Panther AWS.STS.GetCallerIdentity.TruffleHog"),
    ("signin:GetSigninToken", "Panther AWS.Console.GetSigninToken.Abuse"),
    ("kms:ScheduleKeyDeletion", "Panther AWS.KMS.CustomerManagedKeyLoss"),
    ("kms:DisableKey", "Panther AWS.KMS.CustomerManagedKeyLoss"),
    ("rds:StartExportTask", "Elastic collection_rds_snapshot_export; Panther AWS.RDS.SnapshotExport"),
    ("rds:ModifyDBSnapshotAttribute", "Panther AWS.RDS.SnapshotShared"),
    ("organizations:LeaveOrganization", "Elastic defense_evasion_organizations_leave_organization; Panther AWS.CloudTrail.AttemptToLeaveOrg"),
    ("account:EnableRegion", "Elastic defense_evasion_aws_region_enabled; Panther AWS.CloudTrail.EnableRegion"),
];

/// The rule catalog with the configured windows, learning periods and thresholds.
pub fn rules(s: &Settings) -> Vec<Rule> {
    let seen = format!(
        "New means not seen in the last {} days (the window), and not during the first {} \
         days after the plugin first saw the account (its learning period).",
        s.window_days, s.learning_days
    );
    let rate = |min: u32| {
        format!(
            "A burst is a minute (event time) with at least {min} calls and {} deviations or \
             more above the key's own mean per minute, an exponentially weighted baseline over \
             {} days with quiet minutes included (the host's `baseline`); a key is learnt for \
             {} days after its first call. One finding per burst: the incident ends with the \
             first minute back under the threshold.",
            s.rate_threshold, s.rate_history_days, s.rate_learning_days
        )
    };
    let sensitive = s.sensitive_apis.join(", ");
    let rule = |id, severity, title, techniques: &[&str], description: String, runbook| {
        Rule::new(
            id,
            severity,
            title,
            techniques,
            &description,
            runbook,
            &[NOTIFY_SEND],
        )
    };
    vec![
        rule(FIRST_IAM_WRITE, Severity::Medium,
            "Principal made an IAM write call it never made before", &["T1098", "T1078.004"],
            format!("A successful IAM write call (create, attach, put, update, delete...) by a principal (the role for a role session) that never made that call before. Tuple: (principal, event name), as Elastic's new_terms rules on IAM. {seen}"),
            "Ask the principal's owner whether the change was intended; if not, review what it changed and the credentials it used (access key, session), and revoke them."),
        rule(NEW_SIGNIN_NETWORK, Severity::Medium,
            "Console sign-in from a network the principal never used", &["T1078.004"],
            format!("A successful console sign-in by a principal from a source network (/24 for IPv4, /48 for IPv6) it never signed in from. Tuple: (principal, network). {seen}"),
            "Confirm with the person that the sign-in was theirs (travel, new office, VPN); if not, reset the password and MFA and review what the session did."),
        rule(SENSITIVE_FIRST_CALL, Severity::High,
            "Principal called a sensitive API for the first time", &["T1552.005", "T1078.004"],
            format!("A successful call of a sensitive API (secrets, parameters, instance passwords and user data, snapshot and image sharing, federation and session tokens, key deletion, leaving the organization...) by a principal that never called it. Tuple: (principal, service:EventName). The list is the `sensitive_apis` setting: {sensitive}. {seen}"),
            "Ask the principal's owner why it needed this API now; if unexpected, find which secret, snapshot or token it touched, rotate or unshare it, and revoke the credentials used."),
        rule(ACCESS_KEY_NEW_NETWORK, Severity::High,
            "Long-term access key used from a network it never used", &["T1078.004", "T1552.001"],
            format!("A call (any outcome) with a long-term access key (AKIA...) from a source network (/24 or /48) the key was never used from, as Elastic's credential_access_iam_long_term_access_key_first_seen_from_source_ip. Tuple: (principal, access key id, network). {seen}"),
            "Check whether the key's owner moved (new office, CI runner, VPN); if not, deactivate the key (trailwarden's access-key response) and review what it called from that network."),
        rule(NEW_USER_AGENT_FAMILY, Severity::Low,
            "IAM user or root used a user-agent family it never used", &["T1078.004"],
            format!("A call by an IAM user or root with a user-agent family (the first product token: aws-cli, boto3, terraform, browser, console...) it never used; AWS's own callers are left out. Tuple: (principal, family). {seen}"),
            "A new tool may be a new script of the owner or stolen keys in an attacker's tooling (e.g. a pentest framework): ask the owner, and look at the source addresses of the calls."),
        rule(NEW_REGION, Severity::Medium,
            "IAM user or root acted in a region it never used", &["T1535"],
            format!("A successful call by an IAM user or root in a region it never acted in (global services such as IAM, STS and S3 left out). Tuple: (principal, region). {seen}"),
            "Resources in unused regions are a classic hiding place (crypto-mining): list what the principal created in that region and ask its owner."),
        rule(NEW_SERVICE, Severity::Low,
            "IAM user or root called a service it never called", &["T1526", "T1078.004"],
            format!("A successful call by an IAM user or root to an AWS service it never called. Tuple: (principal, service). {seen}"),
            "Discovery with stolen keys walks services one after the other: if several of these come together, treat the key as compromised."),
        rule(NEW_ROLE_CHAIN, Severity::Medium,
            "Role assumed a role it never assumed before (role chaining)", &["T1550.001", "T1078.004"],
            format!("A successful sts:AssumeRole by a role session into a role its role never assumed. Tuple: (source role, target role ARN). {seen}"),
            "Check that the chain is part of a deployment or cross-account access the owners know; if not, revoke the target role's sessions and tighten its trust policy."),
        rule(CALL_BURST, Severity::Medium,
            "IAM user or root called AWS at a rate it never had", &["T1580", "T1526"],
            format!("Calls (any outcome) by an IAM user or root, counted per minute against its own baseline. Key: (principal). {}", rate(s.call_burst_min)),
            "A burst of calls with long-term keys is enumeration or mass change: look at the APIs and the source addresses of the minute, and deactivate the key if it is not the owner's job."),
        rule(ERROR_BURST, Severity::Medium,
            "Principal's failed calls burst above its own baseline", &["T1580", "T1110"],
            format!("Failed calls (an error code) by any principal (the role for a role session), counted per minute against its own baseline; console sign-ins are left to the sign-in rule. Key: (principal). {}", rate(s.error_burst_min)),
            "Access-denied bursts are what permission enumeration with stolen credentials looks like (e.g. enumerate-iam): look at the error codes and APIs, and at where the calls came from."),
        rule(SIGNIN_FAILURE_BURST, Severity::High,
            "Console sign-in failures of one user burst", &["T1110.001"],
            format!("Failed console sign-ins of one user (or of one account's user name for unknown users), counted per minute against their baseline, as Elastic's credential_access_console_login_brute_force_by_user. Key: (principal). {}", rate(s.signin_failure_burst_min)),
            "Password guessing: check that the user has MFA, look at the source addresses, and block them at the edge if they persist."),
        rule(SECRETS_BURST, Severity::High,
            "Principal retrieved secrets at a rate it never had", &["T1555.006"],
            format!("secretsmanager:GetSecretValue and BatchGetSecretValue calls (any outcome) by one principal counted per minute against its own baseline, as Elastic's credential_access_rapid_secret_retrieval_attempts_from_secretsmanager and Panther's AWS.SecretsManager.RetrieveSecrets. Key: (principal). {}", rate(s.secrets_burst_min)),
            "Mass secret retrieval is credential harvesting: list the secrets read in the burst, rotate them, and revoke the principal's credentials if the reads were not its job."),
        rule(INSIGHT, Severity::Medium,
            "CloudTrail Insights: an API's call or error rate far from its baseline", &["T1580", "T1078.004"],
            "A CloudTrail Insights event that starts (state Start; its End closes the same incident, dedup key the sharedEventID): the write-call or error rate of one API in one account and region far from AWS's baseline. The finding carries AWS's attributions: the top principals (its resources), user agents and error codes during the insight, and both averages.".to_owned(),
            "Look at the top principals and user agents: a known deployment or batch job explains most; otherwise treat the principal as compromised and review its calls in the insight's window."),
        rule(GUARDDUTY_FINDING, Severity::Medium,
            "GuardDuty finding", &["T1078.004"],
            "A GuardDuty finding delivered through EventBridge (detail-type GuardDuty Finding), raised with GuardDuty's severity (7 and over high, 9 and over critical), type, description, principal, access key and source address, so GuardDuty's detections sit beside trailwarden's and share its suppressions and notifications. Dedup key: the finding's id (GuardDuty resends a finding as it recurs).".to_owned(),
            "Follow GuardDuty's remediation for the finding type; the principal and access key named are where to start (disable the key, revoke the sessions)."),
    ]
}

/// Severity, title and the description's sentence for a finding of `rule` on `values`
/// (`values[0]` is the principal).
pub fn describe_finding(rule: &str, values: &[String]) -> (Option<Severity>, String, String) {
    let v = |i: usize| values.get(i).map_or("", String::as_str);
    let (severity, title, what) = match rule {
        FIRST_IAM_WRITE => (
            Severity::Medium,
            format!("first iam:{}", v(1)),
            format!("called iam:{} for the first time", v(1)),
        ),
        NEW_SIGNIN_NETWORK => (
            Severity::Medium,
            format!("console sign-in from a new network {}", v(1)),
            format!(
                "signed in to the console from a network ({}) it had not signed in from",
                v(1)
            ),
        ),
        SENSITIVE_FIRST_CALL => (
            Severity::High,
            format!("first call of sensitive API {}", v(1)),
            format!("called the sensitive API {} for the first time", v(1)),
        ),
        ACCESS_KEY_NEW_NETWORK => (
            Severity::High,
            format!("access key {} used from a new network {}", v(1), v(2)),
            format!(
                "used the long-term access key {} from a network ({}) it was never used from",
                v(1),
                v(2)
            ),
        ),
        NEW_USER_AGENT_FAMILY => (
            Severity::Low,
            format!("new user-agent family {}", v(1)),
            format!("used a user-agent family ({}) it never used", v(1)),
        ),
        NEW_REGION => (
            Severity::Medium,
            format!("first activity in region {}", v(1)),
            format!("acted in region {} for the first time", v(1)),
        ),
        NEW_SERVICE => (
            Severity::Low,
            format!("first call of service {}", v(1)),
            format!("called the service {} for the first time", v(1)),
        ),
        NEW_ROLE_CHAIN => (
            Severity::Medium,
            format!("new role chain to {}", v(1)),
            format!("assumed the role {} for the first time", v(1)),
        ),
        CALL_BURST => (
            Severity::Medium,
            "call-rate burst".to_owned(),
            "called AWS at a rate far above its own baseline".to_owned(),
        ),
        ERROR_BURST => (
            Severity::Medium,
            "error-rate burst".to_owned(),
            "made failed calls at a rate far above its own baseline".to_owned(),
        ),
        SIGNIN_FAILURE_BURST => (
            Severity::High,
            "console sign-in failure burst".to_owned(),
            "failed to sign in to the console at a rate far above its baseline".to_owned(),
        ),
        SECRETS_BURST => (
            Severity::High,
            "secret retrieval burst".to_owned(),
            "retrieved secrets at a rate far above its own baseline".to_owned(),
        ),
        _ => return (None, rule.to_owned(), format!("raised {rule}")),
    };
    (Some(severity), title, what)
}
