//! [`ExecError`]: what went wrong, and whether trying again later can help.

use std::fmt;

use aws_sdk_iam::config::http::HttpResponse;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_iam::operation::RequestId;

/// Why an action (or a webhook) failed.
///
/// `retryable` tells the outbox whether to try again with backoff (throttling, 5xx, timeouts,
/// connection failures) or to record a final failure (access denied, no such entity,
/// validation). Messages name the operation and the resource, never credentials or request
/// bodies.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExecError {
    /// True when the same call may succeed later.
    pub retryable: bool,
    /// What failed, for people: operation, resource, AWS error code and message.
    pub message: String,
    /// The AWS request id (or the webhook's `x-request-id`), when a response came back.
    pub request_id: Option<String>,
    /// The AWS error code (`NoSuchEntity`, `AccessDenied`, `Throttling`, ...), when there
    /// was one.
    pub code: Option<String>,
}

impl ExecError {
    /// A final failure found before calling anything (bad arguments, missing configuration).
    pub fn invalid(message: impl Into<String>) -> Self {
        ExecError {
            retryable: false,
            message: message.into(),
            request_id: None,
            code: None,
        }
    }

    /// A failure worth retrying that carries no AWS error code.
    pub fn transient(message: impl Into<String>) -> Self {
        ExecError {
            retryable: true,
            message: message.into(),
            request_id: None,
            code: None,
        }
    }

    /// Classifies an AWS SDK error. `context` names the call, e.g.
    /// `iam:UpdateAccessKey on user alice`.
    pub fn from_sdk<E>(context: &str, err: &SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let request_id = err.request_id().map(str::to_owned);
        match err {
            SdkError::ServiceError(service) => {
                let status = service.raw().status().as_u16();
                let code = err.code().map(str::to_owned);
                let retryable = status >= 500
                    || status == 429
                    || code.as_deref().is_some_and(is_transient_code);
                let text = match (code.as_deref(), err.message()) {
                    (Some(code), Some(msg)) => format!("{code}: {msg}"),
                    (Some(code), None) => code.to_owned(),
                    (None, Some(msg)) => format!("HTTP {status}: {msg}"),
                    (None, None) => format!("HTTP {status}"),
                };
                ExecError {
                    retryable,
                    message: format!("{context}: {text}"),
                    request_id,
                    code,
                }
            }
            // Timeouts and lost connections: the request may or may not have been applied;
            // every action here is safe to repeat, so try again.
            SdkError::TimeoutError(_) | SdkError::ResponseError(_) => ExecError {
                retryable: true,
                message: format!("{context}: {}", error_chain(err)),
                request_id,
                code: None,
            },
            SdkError::DispatchFailure(failure) => ExecError {
                // A "user" dispatch failure is a request that can never be sent as built.
                retryable: !failure.is_user(),
                message: format!("{context}: {}", error_chain(err)),
                request_id,
                code: None,
            },
            // Building the request failed (invalid input, or no credentials could be found).
            _ => ExecError {
                retryable: false,
                message: format!("{context}: {}", error_chain(err)),
                request_id,
                code: None,
            },
        }
    }
}

/// An error and its sources, `a: b: c`, so that "dispatch failure" says why.
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // Wrappers often repeat their source's text; say it once.
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Error codes that AWS services return for throttling and transient trouble, sometimes
/// with a 400 status.
fn is_transient_code(code: &str) -> bool {
    matches!(
        code,
        "Throttling"
            | "ThrottlingException"
            | "ThrottledException"
            | "RequestThrottledException"
            | "TooManyRequestsException"
            | "ProvisionedThroughputExceededException"
            | "TransactionInProgressException"
            | "RequestLimitExceeded"
            | "BandwidthLimitExceeded"
            | "RequestThrottled"
            | "SlowDown"
            | "PriorRequestNotComplete"
            | "EC2ThrottledException"
            | "ConcurrentModification"
            | "ConcurrentModificationException"
            | "ServiceUnavailable"
            | "ServiceUnavailableException"
            | "InternalError"
            | "InternalFailure"
            | "InternalServerError"
            | "RequestTimeout"
            | "RequestTimeoutException"
            | "IDPCommunicationError"
    )
}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        if self.retryable {
            f.write_str(" [retryable]")?;
        }
        Ok(())
    }
}

impl std::error::Error for ExecError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_request_id_and_retryability() {
        let err = ExecError {
            retryable: true,
            message: "iam:UpdateAccessKey on user bob: Throttling: Rate exceeded".into(),
            request_id: Some("abc".into()),
            code: Some("Throttling".into()),
        };
        assert_eq!(
            err.to_string(),
            "iam:UpdateAccessKey on user bob: Throttling: Rate exceeded (request id abc) [retryable]"
        );
        assert_eq!(ExecError::invalid("x").to_string(), "x");
    }

    #[test]
    fn throttling_codes_are_transient_and_access_denied_is_not() {
        assert!(is_transient_code("Throttling"));
        assert!(is_transient_code("SlowDown"));
        assert!(!is_transient_code("AccessDenied"));
        assert!(!is_transient_code("NoSuchEntity"));
        assert!(!is_transient_code("ValidationError"));
    }
}
