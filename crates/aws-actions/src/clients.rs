//! AWS settings, the SDK's HTTP client, and service clients per region and account.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_iam::config::{Credentials, SharedCredentialsProvider, SharedHttpClient};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};

use crate::error::ExecError;

/// Where and as whom actions run.
#[derive(Debug, Clone, Default)]
pub struct AwsSettings {
    /// Send every AWS call here instead of the service's endpoint (tests: moto on
    /// 127.0.0.1). Requests are still real HTTP with SigV4 signatures.
    pub endpoint_url: Option<String>,
    /// The region for actions whose target region is empty or `global`; without it, the
    /// standard region chain (`AWS_REGION`, profile, IMDS), then `us-east-1`.
    pub region: Option<String>,
    /// Account id -> ARN of the role to assume there. An action whose target account is
    /// listed runs with that role (even in the platform account, so that the daemon's own
    /// identity may be one that can only assume roles). The key `*` is a pattern for every
    /// other account except the platform account: `{account}` in its ARN is replaced by the
    /// target account (`arn:aws:iam::{account}:role/trailwarden-responder`).
    pub assume_role_by_account: BTreeMap<String, String>,
    /// The account of our own credentials. When set, an action for any other account that
    /// has no role above is refused instead of being sent with the wrong identity.
    pub platform_account: Option<String>,
    /// Credentials to use instead of the standard chain (env, profile, SSO, IMDS). Tests
    /// set dummy ones here rather than in the process environment.
    pub credentials: Option<SharedCredentialsProvider>,
}

/// The region used when nothing else names one. IAM is global, so this only matters for
/// regional actions whose event carried no region.
const FALLBACK_REGION: &str = "us-east-1";

/// How long assumed-role credentials live: one action's worth (STS's minimum).
const ASSUMED_ROLE_SECONDS: i32 = 900;

/// The SDK's HTTP client: hyper 1 with rustls on ring, set explicitly so that no other TLS
/// stack (aws-lc) is linked in.
pub(crate) fn sdk_http_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// Bounds every call, so that a hung endpoint becomes a retryable timeout.
fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .operation_attempt_timeout(Duration::from_secs(20))
        .operation_timeout(Duration::from_secs(60))
        .build()
}

/// Loads the base SDK configuration from the settings and the standard chains.
///
/// # Errors
/// A non-retryable [`ExecError`] when `endpoint_url` is not an absolute http(s) URL.
pub(crate) async fn load_base_config(settings: &AwsSettings) -> Result<SdkConfig, ExecError> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(sdk_http_client())
        .timeout_config(timeouts());
    if let Some(url) = &settings.endpoint_url {
        let uri: http::Uri = url
            .parse()
            .map_err(|e| ExecError::invalid(format!("endpoint_url {url:?}: {e}")))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(ExecError::invalid(format!(
                "endpoint_url {url:?} is not an http(s) URL"
            )));
        }
        loader = loader.endpoint_url(url);
    }
    if let Some(region) = &settings.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(credentials) = &settings.credentials {
        loader = loader.credentials_provider(credentials.clone());
    }
    Ok(loader.load().await)
}

/// The service clients one action needs, for one account and region.
#[derive(Debug, Clone)]
pub(crate) struct Clients {
    pub iam: aws_sdk_iam::Client,
    pub cloudtrail: aws_sdk_cloudtrail::Client,
    pub s3: aws_sdk_s3::Client,
    pub events: aws_sdk_eventbridge::Client,
    /// The role these clients act as, when they were made from an AssumeRole.
    pub assumed_role: Option<String>,
}

impl Clients {
    fn new(config: &SdkConfig, assumed_role: Option<String>) -> Self {
        // Behind an endpoint override (moto, a proxy) bucket names cannot be DNS labels.
        let s3 = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(config.endpoint_url().is_some())
            .build();
        Clients {
            iam: aws_sdk_iam::Client::new(config),
            cloudtrail: aws_sdk_cloudtrail::Client::new(config),
            s3: aws_sdk_s3::Client::from_conf(s3),
            events: aws_sdk_eventbridge::Client::new(config),
            assumed_role,
        }
    }
}

/// Clients with our own credentials, cached per region; STS clients for AssumeRole,
/// cached per region. Clients for another account are made per action from a fresh
/// AssumeRole, so that each action's session name (and so CloudTrail) names the action.
#[derive(Debug)]
pub(crate) struct ClientCache {
    base: SdkConfig,
    own: Mutex<HashMap<String, Arc<Clients>>>,
    sts: Mutex<HashMap<String, aws_sdk_sts::Client>>,
}

impl ClientCache {
    pub(crate) fn new(base: SdkConfig) -> Self {
        ClientCache {
            base,
            own: Mutex::new(HashMap::new()),
            sts: Mutex::new(HashMap::new()),
        }
    }

    /// The credentials provider of our own identity, if any is configured.
    pub(crate) fn base_credentials(&self) -> Option<SharedCredentialsProvider> {
        self.base.credentials_provider()
    }

    /// The region an action runs in: the target's, else the configured one.
    pub(crate) fn region_for(&self, target_region: &str) -> Region {
        let region = target_region.trim();
        if region.is_empty() || region == "global" || region == "aws-global" {
            self.base
                .region()
                .cloned()
                .unwrap_or_else(|| Region::from_static(FALLBACK_REGION))
        } else {
            Region::new(region.to_owned())
        }
    }

    /// The base configuration in `region`, with other credentials if given.
    fn config_in(
        &self,
        region: &Region,
        credentials: Option<SharedCredentialsProvider>,
    ) -> SdkConfig {
        let mut builder = self.base.to_builder().region(region.clone());
        if let Some(credentials) = credentials {
            builder = builder.credentials_provider(credentials);
        }
        builder.build()
    }

    /// The base configuration (our own credentials) in `region` (the configured one when
    /// empty).
    pub(crate) fn own_config(&self, region: &str) -> SdkConfig {
        self.config_in(&self.region_for(region), None)
    }

    /// Clients with our own credentials in `region`.
    pub(crate) fn own(&self, region: &Region) -> Arc<Clients> {
        let mut own = self.own.lock().unwrap_or_else(|e| e.into_inner());
        own.entry(region.to_string())
            .or_insert_with(|| Arc::new(Clients::new(&self.config_in(region, None), None)))
            .clone()
    }

    fn sts(&self, region: &Region) -> aws_sdk_sts::Client {
        let mut sts = self.sts.lock().unwrap_or_else(|e| e.into_inner());
        sts.entry(region.to_string())
            .or_insert_with(|| aws_sdk_sts::Client::new(&self.config_in(region, None)))
            .clone()
    }

    /// Clients acting as `role_arn`, from an AssumeRole whose session is named after the
    /// action.
    ///
    /// # Errors
    /// The AssumeRole failure, classified as any AWS error (AccessDenied is final,
    /// throttling and network trouble are retryable).
    pub(crate) async fn assumed(
        &self,
        region: &Region,
        role_arn: &str,
        action_id: &str,
    ) -> Result<Clients, ExecError> {
        let session = session_name(action_id);
        let context = format!("sts:AssumeRole {role_arn} (session {session})");
        let out = self
            .sts(region)
            .assume_role()
            .role_arn(role_arn)
            .role_session_name(&session)
            .duration_seconds(ASSUMED_ROLE_SECONDS)
            .send()
            .await
            .map_err(|e| ExecError::from_sdk(&context, &e))?;
        let creds = out
            .credentials()
            .ok_or_else(|| ExecError::transient(format!("{context}: no credentials returned")))?;
        let expiry = SystemTime::try_from(*creds.expiration()).ok();
        let credentials = Credentials::new(
            creds.access_key_id(),
            creds.secret_access_key(),
            Some(creds.session_token().to_owned()),
            expiry,
            "trailwarden-assume-role",
        );
        let config = self.config_in(region, Some(SharedCredentialsProvider::new(credentials)));
        Ok(Clients::new(&config, Some(role_arn.to_owned())))
    }
}

/// `trailwarden-<action_id>`, cut to STS's 64 characters, with every character STS does
/// not allow in a session name (`[\w+=,.@-]`) replaced by `-`.
pub(crate) fn session_name(action_id: &str) -> String {
    format!("trailwarden-{action_id}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_names_are_sanitized_and_bounded() {
        assert_eq!(session_name("42"), "trailwarden-42");
        assert_eq!(session_name("a/b c:é"), "trailwarden-a-b-c--");
        let long = session_name(&"x".repeat(100));
        assert_eq!(long.len(), 64);
        assert!(long.starts_with("trailwarden-xxx"));
    }

    #[tokio::test]
    async fn bad_endpoint_is_refused() {
        let settings = AwsSettings {
            endpoint_url: Some("not a url".into()),
            ..AwsSettings::default()
        };
        let err = load_base_config(&settings).await.unwrap_err();
        assert!(!err.retryable);
        assert!(err.message.contains("endpoint_url"), "{err}");
    }
}
