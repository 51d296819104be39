//! What the host's lookups for plugins share (WIT 0.4.0 `history` and 0.5.0 `baseline`):
//! the limits on what a question may hold, and the WIT `history-error`. A module of its own
//! so that `history` (which holds the rate baselines) and `rate` do not import each other.

/// Values in one tuple (Elastic's `new_terms` takes up to three).
pub const MAX_TUPLE_VALUES: usize = 8;
/// Bytes of a rule name plus its tuple's values.
pub const MAX_TUPLE_BYTES: usize = 1024;
/// Bytes of an account id.
pub const MAX_ACCOUNT_BYTES: usize = 64;
/// The longest window or learning period (a little over a year).
pub const MAX_PERIOD_SECONDS: u32 = 400 * 86_400;

/// Why a question was not answered (the WIT `history-error`): the sandbox's type, which it
/// turns into the contract's error.
pub use trailwarden_runtime::HistoryError;
