//! Canonical forms of JSON scalars, so that equal values hash equally.

use serde_json::Number;

/// A number in a form where numerically equal JSON numbers compare equal
/// (`5`, `5.0` and `5e0` all become `Int(5)`), without losing precision on
/// large integers the way a plain `f64` would.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum NumKey {
    Int(i128),
    /// Bits of a finite, non-integral `f64`.
    Float(u64),
}

impl NumKey {
    pub(crate) fn of(n: &Number) -> Self {
        if let Some(i) = n.as_i64() {
            return Self::Int(i128::from(i));
        }
        if let Some(u) = n.as_u64() {
            return Self::Int(i128::from(u));
        }
        let f = n.as_f64().unwrap_or(0.0);
        // Integral floats within i128 range convert exactly.
        if f.fract() == 0.0 && f.abs() < 1.0e38 {
            #[allow(clippy::cast_possible_truncation)]
            return Self::Int(f as i128);
        }
        Self::Float(f.to_bits())
    }
}

/// Lower-casing used on both sides of every case-insensitive comparison.
pub(crate) fn fold(s: &str) -> String {
    s.to_lowercase()
}
