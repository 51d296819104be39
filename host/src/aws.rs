//! The AWS side of live ingest: one SDK configuration (standard credential chain, the
//! config's region and endpoint override, one rustls+ring HTTP client), S3 log files
//! (fetch, and list CloudTrail's `AWSLogs/` layout with date pruning).

use anyhow::{Context, Result};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};

/// Where the SDK goes: the `[aws]` table (`endpoint_url`, `region`), or the environment.
#[derive(Debug, Clone, Default)]
pub struct AwsTarget {
    pub endpoint_url: Option<String>,
    pub region: Option<String>,
}

impl AwsTarget {
    /// The `[aws]` settings of a config.
    pub fn of(config: &crate::config::Config) -> AwsTarget {
        AwsTarget {
            endpoint_url: config.response.endpoint_url.clone(),
            region: config.response.region.clone(),
        }
    }

    /// Loads the SDK configuration: credentials and region from the standard chain
    /// (environment, profile, SSO, container, IMDS), the region and endpoint overridden
    /// when configured.
    pub async fn sdk_config(&self) -> SdkConfig {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http);
        if let Some(region) = &self.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(url) = &self.endpoint_url {
            loader = loader.endpoint_url(url.clone());
        }
        loader.load().await
    }

    /// An S3 client; with an endpoint override (an emulator, MinIO…) it addresses buckets
    /// by path, since `bucket.127.0.0.1` does not resolve.
    pub fn s3(&self, sdk: &SdkConfig) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(self.endpoint_url.is_some())
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }
}

/// `s3://bucket/prefix`, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    pub bucket: String,
    pub key: String,
}

impl S3Url {
    /// Parses `s3://bucket[/key-or-prefix]`; `None` for anything else.
    pub fn parse(text: &str) -> Option<S3Url> {
        let rest = text.strip_prefix("s3://")?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return None;
        }
        Some(S3Url {
            bucket: bucket.to_string(),
            key: key.to_string(),
        })
    }
}

impl std::fmt::Display for S3Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// Why an object could not be read.
#[derive(Debug)]
pub enum FetchError {
    /// No such key (or bucket): it will not appear by retrying.
    Missing,
    /// Larger than allowed; the size.
    TooLarge(u64),
    /// Anything else (network, permissions, throttling): worth retrying.
    Other(anyhow::Error),
}

/// Reads a whole object, refusing ones larger than `max_bytes`.
///
/// # Errors
/// See [`FetchError`].
pub async fn fetch_object(
    s3: &aws_sdk_s3::Client,
    url: &S3Url,
    max_bytes: u64,
) -> std::result::Result<Vec<u8>, FetchError> {
    let response = match s3
        .get_object()
        .bucket(&url.bucket)
        .key(&url.key)
        .send()
        .await
    {
        Ok(response) => response,
        Err(e) => {
            let missing = e.as_service_error().is_some_and(|s| s.is_no_such_key())
                || e.raw_response().is_some_and(|r| r.status().as_u16() == 404);
            return Err(if missing {
                FetchError::Missing
            } else {
                FetchError::Other(anyhow::anyhow!(
                    "cannot read {url}: {}",
                    aws_sdk_s3::error::DisplayErrorContext(e)
                ))
            });
        }
    };
    let length = response.content_length().unwrap_or(0).max(0) as u64;
    if length > max_bytes {
        return Err(FetchError::TooLarge(length));
    }
    let bytes = response
        .body
        .collect()
        .await
        .map_err(|e| FetchError::Other(anyhow::Error::new(e).context(format!("reading {url}"))))?
        .into_bytes();
    if bytes.len() as u64 > max_bytes {
        return Err(FetchError::TooLarge(bytes.len() as u64));
    }
    Ok(bytes.to_vec())
}

/// A UTC calendar day, `(year, month, day)`; compares in time order.
pub type Day = (u32, u32, u32);

/// Parses `YYYY-MM-DD` or an RFC 3339 time (its UTC day).
///
/// # Errors
/// Neither form.
pub fn parse_day(text: &str) -> Result<Day> {
    let date = if text.len() == 10 {
        format!("{text}T00:00:00Z")
    } else {
        text.to_string()
    };
    let at = humantime::parse_rfc3339_weak(&date)
        .with_context(|| format!("{text:?}: expected a date (2024-05-01) or an RFC 3339 time"))?;
    let utc = humantime::format_rfc3339_seconds(at).to_string();
    let part = |range: std::ops::Range<usize>| utc[range].parse::<u32>().unwrap_or(0);
    Ok((part(0..4), part(5..7), part(8..10)))
}

/// Days to read, both ends inclusive; `None` is open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayRange {
    pub since: Option<Day>,
    pub until: Option<Day>,
}

impl DayRange {
    fn is_open(&self) -> bool {
        self.since.is_none() && self.until.is_none()
    }

    fn overlaps(&self, first: Day, last: Day) -> bool {
        self.since.is_none_or(|s| last >= s) && self.until.is_none_or(|u| first <= u)
    }
}

/// What to do with a folder (common prefix) of a CloudTrail bucket.
#[derive(Debug, PartialEq, Eq)]
enum Descend {
    /// Not in the day range, or digest files: skip it.
    Prune,
    /// A whole day (or deeper) in range: list everything under it at once.
    All,
    /// Look inside, one level at a time.
    Walk,
}

/// Decides from a prefix's place in `AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/`
/// (organization trails add `<org-id>/` after `AWSLogs/`).
fn descend(prefix: &str, range: &DayRange) -> Descend {
    let segments: Vec<&str> = prefix.trim_end_matches('/').split('/').collect();
    if segments.contains(&"CloudTrail-Digest") {
        return Descend::Prune;
    }
    let Some(at) = segments.iter().position(|s| *s == "CloudTrail") else {
        return Descend::Walk;
    };
    // at+1 region, at+2 year, at+3 month, at+4 day
    let number = |i: usize| segments.get(i).and_then(|s| s.parse::<u32>().ok());
    match (number(at + 2), number(at + 3), number(at + 4)) {
        (Some(y), Some(m), Some(d)) => {
            if range.overlaps((y, m, d), (y, m, d)) {
                Descend::All
            } else {
                Descend::Prune
            }
        }
        (Some(y), Some(m), None) if range.overlaps((y, m, 1), (y, m, 31)) => Descend::Walk,
        (Some(y), None, None) if range.overlaps((y, 1, 1), (y, 12, 31)) => Descend::Walk,
        (Some(_), _, _) => Descend::Prune,
        (None, _, _) => Descend::Walk,
    }
}

/// Whether an object looks like a CloudTrail log file (or JSON lines of events).
pub fn is_log_file(key: &str) -> bool {
    let name = key.rsplit('/').next().unwrap_or(key);
    !name.is_empty()
        && !key.contains("CloudTrail-Digest")
        && (name.ends_with(".json.gz") || name.ends_with(".json") || name.ends_with(".jsonl"))
}

/// Every log file under `url` (a bucket and prefix), in key order. With a day range, walks
/// the CloudTrail layout folder by folder and skips days outside it; without, lists the
/// prefix flat. Digest files are left out.
///
/// # Errors
/// A listing fails.
pub async fn list_log_files(
    s3: &aws_sdk_s3::Client,
    url: &S3Url,
    range: &DayRange,
) -> Result<Vec<S3Url>> {
    let mut keys = Vec::new();
    if range.is_open() {
        list_flat(s3, &url.bucket, &url.key, &mut keys).await?;
    } else {
        // Depth-first over folders; the stack is bounded by the layout's depth × width.
        let mut stack = vec![url.key.clone()];
        while let Some(prefix) = stack.pop() {
            let mut token = None;
            loop {
                let page = s3
                    .list_objects_v2()
                    .bucket(&url.bucket)
                    .prefix(&prefix)
                    .delimiter("/")
                    .set_continuation_token(token.take())
                    .send()
                    .await
                    .map_err(|e| anyhow::anyhow!("{}", aws_sdk_s3::error::DisplayErrorContext(e)))
                    .with_context(|| format!("cannot list s3://{}/{prefix}", url.bucket))?;
                for object in page.contents() {
                    if let Some(key) = object.key() {
                        keys.push(key.to_string());
                    }
                }
                for common in page.common_prefixes() {
                    let Some(child) = common.prefix() else {
                        continue;
                    };
                    match descend(child, range) {
                        Descend::Prune => {}
                        Descend::All => list_flat(s3, &url.bucket, child, &mut keys).await?,
                        Descend::Walk => stack.push(child.to_string()),
                    }
                }
                match page.next_continuation_token() {
                    Some(next) if page.is_truncated() == Some(true) => {
                        token = Some(next.to_string())
                    }
                    _ => break,
                }
            }
        }
    }
    keys.retain(|k| is_log_file(k));
    keys.sort();
    keys.dedup();
    Ok(keys
        .into_iter()
        .map(|key| S3Url {
            bucket: url.bucket.clone(),
            key,
        })
        .collect())
}

async fn list_flat(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    keys: &mut Vec<String>,
) -> Result<()> {
    let mut token = None;
    loop {
        let page = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token.take())
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", aws_sdk_s3::error::DisplayErrorContext(e)))
            .with_context(|| format!("cannot list s3://{bucket}/{prefix}"))?;
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_string)),
        );
        match page.next_continuation_token() {
            Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_string()),
            _ => return Ok(()),
        }
    }
}

/// Decodes an S3 event notification's object key (URL-encoded, `+` for space).
pub fn decode_notification_key(key: &str) -> String {
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(high), Some(low)) => {
                        out.push((high * 16 + low) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Formats an SDK error with its whole cause chain, naming the call that failed.
pub(crate) fn sdk_error<E>(call: &str, error: E) -> anyhow::Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    anyhow::anyhow!(
        "{call} failed: {}",
        aws_sdk_s3::error::DisplayErrorContext(error)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_urls_parse() {
        assert_eq!(
            S3Url::parse("s3://b/AWSLogs/1/"),
            Some(S3Url {
                bucket: "b".into(),
                key: "AWSLogs/1/".into()
            })
        );
        assert_eq!(S3Url::parse("s3://b").unwrap().key, "");
        assert_eq!(S3Url::parse("s3:///k"), None);
        assert_eq!(S3Url::parse("/tmp/x"), None);
    }

    #[test]
    fn days_parse_from_dates_and_times() {
        assert_eq!(parse_day("2024-05-01").unwrap(), (2024, 5, 1));
        assert_eq!(parse_day("2024-05-01T23:10:00Z").unwrap(), (2024, 5, 1));
        assert!(parse_day("May 1st").is_err());
    }

    #[test]
    fn the_layout_is_pruned_by_day() {
        let range = DayRange {
            since: Some((2024, 5, 30)),
            until: Some((2024, 6, 2)),
        };
        let base = "logs/AWSLogs/111122223333/CloudTrail/eu-west-1/";
        assert_eq!(descend("logs/", &range), Descend::Walk);
        assert_eq!(descend("logs/AWSLogs/111122223333/", &range), Descend::Walk);
        assert_eq!(descend(base, &range), Descend::Walk);
        assert_eq!(descend(&format!("{base}2023/"), &range), Descend::Prune);
        assert_eq!(descend(&format!("{base}2024/"), &range), Descend::Walk);
        assert_eq!(descend(&format!("{base}2024/04/"), &range), Descend::Prune);
        assert_eq!(descend(&format!("{base}2024/05/"), &range), Descend::Walk);
        assert_eq!(
            descend(&format!("{base}2024/05/29/"), &range),
            Descend::Prune
        );
        assert_eq!(descend(&format!("{base}2024/05/30/"), &range), Descend::All);
        assert_eq!(descend(&format!("{base}2024/06/02/"), &range), Descend::All);
        assert_eq!(
            descend(&format!("{base}2024/06/03/"), &range),
            Descend::Prune
        );
        assert_eq!(
            descend("AWSLogs/111122223333/CloudTrail-Digest/", &range),
            Descend::Prune
        );
        // Organization trails: AWSLogs/<org>/<account>/CloudTrail/...
        assert_eq!(
            descend(
                "AWSLogs/o-abc/111122223333/CloudTrail/us-east-1/2024/06/01/",
                &range
            ),
            Descend::All
        );
    }

    #[test]
    fn notification_keys_are_decoded() {
        assert_eq!(decode_notification_key("a+b%3Dc.json.gz"), "a b=c.json.gz");
        assert_eq!(decode_notification_key("bad%zz"), "bad%zz");
        assert_eq!(decode_notification_key("end%4"), "end%4");
        assert!(is_log_file(
            "AWSLogs/1/CloudTrail/r/2024/01/01/x_CloudTrail_r_1.json.gz"
        ));
        assert!(!is_log_file("AWSLogs/1/CloudTrail-Digest/r/x.json.gz"));
        assert!(!is_log_file("AWSLogs/1/"));
    }
}
