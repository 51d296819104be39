//! The one error type: why a pattern was refused.

/// A pattern was refused. `Display` gives the reason in the words AWS
/// EventBridge uses (e.g. `Empty arrays are not allowed`), so callers can show
/// it to whoever wrote the pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct PatternError {
    reason: String,
}

impl PatternError {
    pub(crate) fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }

    /// The human-readable reason alone, without any prefix.
    #[must_use]
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The full message as EventBridge's `PutRule` returns it:
    /// `Event pattern is not valid. Reason: <reason>`.
    #[must_use]
    pub fn aws_message(&self) -> String {
        format!("Event pattern is not valid. Reason: {}", self.reason)
    }
}

/// Shorthand used by the parser.
pub(crate) fn err<T>(reason: impl Into<String>) -> Result<T, PatternError> {
    Err(PatternError::new(reason))
}
