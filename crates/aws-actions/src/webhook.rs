//! The webhook notifier: POST a JSON body, signed with HMAC-SHA256.
//!
//! It uses the hyper 1 + rustls (ring) stack that the AWS SDK's HTTP client already links,
//! so no second TLS library is built.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::error::{error_chain, ExecError};
use crate::executor::Outcome;

/// Header carrying `sha256=<hex HMAC-SHA256 of the body, keyed with the secret>`.
pub const SIGNATURE_HEADER: &str = "x-trailwarden-signature";
/// Header carrying the time of sending, in Unix seconds.
pub const TIMESTAMP_HEADER: &str = "x-trailwarden-timestamp";

/// Whole-request bound: connect, send, and the response head.
const TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The value of [`SIGNATURE_HEADER`] for `body`: `sha256=` and the lowercase hex
/// HMAC-SHA256 of the exact bytes sent. A receiver recomputes it with the shared secret.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = ring::hmac::sign(&key, body);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for byte in tag.as_ref() {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// POSTs `body` as JSON to `url` with the signature and timestamp headers. A 2xx answer is
/// success. Redirects are not followed.
///
/// # Errors
/// Retryable: connection failures, timeouts (10 s), 5xx, 408 and 429. Final: an invalid
/// URL, an empty secret, other statuses. Messages name only the URL's scheme, host and
/// port: webhook paths often carry tokens.
pub async fn post_webhook(
    url: &str,
    secret: &str,
    body: &serde_json::Value,
) -> Result<Outcome, ExecError> {
    if secret.is_empty() {
        return Err(ExecError::invalid(format!(
            "webhook {}: the secret is empty",
            shown_url(url)?
        )));
    }
    let payload =
        serde_json::to_vec(body).map_err(|e| ExecError::invalid(format!("webhook body: {e}")))?;
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let headers = [
        (SIGNATURE_HEADER, signature(secret, &payload)),
        (TIMESTAMP_HEADER, timestamp.to_string()),
    ];
    post_bytes(url, &headers, payload)
        .await
        .map(Answer::into_outcome)
}

/// What a JSON endpoint answered with a 2xx status.
#[derive(Debug, Clone)]
pub struct Answer {
    /// `scheme://host[:port]` of the URL (never its path or query, which may hold tokens).
    pub shown_url: String,
    pub status: u16,
    /// The first [`BODY_EXCERPT`] bytes of the answer's body, as lossy UTF-8.
    pub body_excerpt: String,
    /// The `x-request-id` header, if any.
    pub request_id: Option<String>,
}

impl Answer {
    fn into_outcome(self) -> Outcome {
        Outcome {
            detail: format!("webhook {} answered {}", self.shown_url, self.status),
            request_id: self.request_id,
            inverse: None,
            assumed_role: None,
        }
    }
}

/// How much of an answer's body is kept (for `notify test` and error messages).
pub const BODY_EXCERPT: usize = 512;

/// POSTs `body` as JSON to `url` (a chat or paging service's incoming webhook), unsigned:
/// these services authenticate the caller by the secret in the URL or the body.
///
/// # Errors
/// As [`post_webhook`]; a non-2xx answer's message also carries a short excerpt of the body
/// (services explain refusals there, e.g. Slack's `invalid_blocks`).
pub async fn post_json(url: &str, body: &serde_json::Value) -> Result<Answer, ExecError> {
    let payload =
        serde_json::to_vec(body).map_err(|e| ExecError::invalid(format!("webhook body: {e}")))?;
    post_bytes(url, &[], payload).await
}

/// `scheme://host[:port]` of an http(s) URL.
fn shown_url(url: &str) -> Result<String, ExecError> {
    let uri: http::Uri = url
        .parse()
        .map_err(|_| ExecError::invalid("webhook URL is not a valid URL"))?;
    let (Some(scheme @ ("http" | "https")), Some(host)) = (uri.scheme_str(), uri.host()) else {
        return Err(ExecError::invalid(
            "webhook URL must be http:// or https://",
        ));
    };
    Ok(match uri.port_u16() {
        Some(port) => format!("{scheme}://{host}:{port}"),
        None => format!("{scheme}://{host}"),
    })
}

async fn post_bytes(
    url: &str,
    headers: &[(&str, String)],
    payload: Vec<u8>,
) -> Result<Answer, ExecError> {
    let shown = shown_url(url)?;
    let uri: http::Uri = url
        .parse()
        .map_err(|_| ExecError::invalid("webhook URL is not a valid URL"))?;
    let mut request = http::Request::post(uri)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(
            http::header::USER_AGENT,
            concat!("trailwarden/", env!("CARGO_PKG_VERSION")),
        );
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let request = request
        .body(Full::new(Bytes::from(payload)))
        .map_err(|e| ExecError::invalid(format!("webhook {shown}: request: {e}")))?;

    // A client per call: pooled connections belong to the runtime that opened them, and
    // callers (tests, the daemon) may use several runtimes. The TLS config is shared.
    let exchange = async {
        let response = client().request(request).await?;
        let status = response.status();
        let request_id = response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let excerpt = read_excerpt(response.into_body()).await;
        Ok::<_, hyper_util::client::legacy::Error>((status, request_id, excerpt))
    };
    let (status, request_id, body_excerpt) = match tokio::time::timeout(TIMEOUT, exchange).await {
        Err(_) => {
            return Err(ExecError::transient(format!(
                "webhook {shown}: no answer within {} s",
                TIMEOUT.as_secs()
            )))
        }
        Ok(Err(err)) => {
            return Err(ExecError::transient(format!(
                "webhook {shown}: {}",
                error_chain(&err)
            )))
        }
        Ok(Ok(answer)) => answer,
    };
    if status.is_success() {
        return Ok(Answer {
            shown_url: shown,
            status: status.as_u16(),
            body_excerpt,
            request_id,
        });
    }
    let code = status.as_u16();
    let said = body_excerpt
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect::<String>();
    Err(ExecError {
        retryable: status.is_server_error() || code == 408 || code == 429,
        message: if said.trim().is_empty() {
            format!("webhook {shown} answered {status}")
        } else {
            format!("webhook {shown} answered {status}: {}", said.trim())
        },
        request_id,
        code: Some(format!("HTTP {code}")),
    })
}

/// The first [`BODY_EXCERPT`] bytes of a response body; the rest is not read.
async fn read_excerpt(mut body: hyper::body::Incoming) -> String {
    use http_body_util::BodyExt;
    let mut kept = Vec::new();
    while kept.len() < BODY_EXCERPT {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    let room = BODY_EXCERPT - kept.len();
                    kept.extend_from_slice(&data[..data.len().min(room)]);
                }
            }
            _ => break,
        }
    }
    String::from_utf8_lossy(&kept).into_owned()
}

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

fn client() -> HttpsClient {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(CONNECT_TIMEOUT));
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config((*tls_config()).clone())
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new()).build(connector)
}

/// rustls on ring with the system's root certificates, loaded once. With no system roots,
/// https:// fails at the handshake with a clear error while http:// still works.
fn tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            let (added, _ignored) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                tracing::warn!("no system root certificates found: https webhooks will fail");
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map(|builder| builder.with_root_certificates(roots).with_no_client_auth())
                .expect("ring supports the default TLS versions");
            Arc::new(config)
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_rfc_4231_case_2() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[tokio::test]
    async fn invalid_urls_and_secrets_are_final() {
        let body = serde_json::json!({});
        let err = post_webhook("ftp://x/y", "s", &body).await.unwrap_err();
        assert!(!err.retryable);
        let err = post_webhook("http://127.0.0.1:9/hook?token=abc", "", &body)
            .await
            .unwrap_err();
        assert!(!err.retryable);
        assert!(!err.message.contains("token"), "{err}");
    }
}
