//! Test fixture, not a plugin: `describe` works, `handle` recurses without bound.
//!
//! The host's wasm stack limit (`max_wasm_stack`) must stop it with a stack overflow trap,
//! record it, and go on.
//!
//! Each frame keeps sixteen values, read from the heap before the recursive call, alive
//! across it and folds them into the result afterwards, one after the other: the call is
//! not in tail position and no frame can be dropped or merged, so the optimiser cannot turn
//! the recursion into a loop. These values live in wasm locals, i.e. on the engine's native
//! stack, while almost nothing goes to Rust's shadow stack in linear memory: the native
//! stack limit is hit first (a `StackOverflow` trap) rather than the shadow stack running
//! off the bottom of memory (which would be an out-of-bounds trap instead).

use core::hint::black_box;

use trailwarden_plugin_sdk::{Descriptor, Event, Finding, Plugin, PluginError};

/// The hostile guest.
pub struct DeepRecursion;

impl Plugin for DeepRecursion {
    fn describe() -> Descriptor {
        Descriptor::every_event(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    }

    fn handle(events: Vec<Event>) -> Result<Vec<Finding>, PluginError> {
        // Seeded from the batch, so nothing about the recursion is known at compile time.
        let seed = events
            .first()
            .map(|e| e.raw.as_bytes())
            .filter(|raw| !raw.is_empty())
            .unwrap_or(b"deep-recursion");
        let sum = descend(black_box(seed), 0);
        // Unreachable in practice: `descend` only returns at depth usize::MAX.
        Err(PluginError::Internal(format!(
            "deep-recursion returned {sum}"
        )))
    }
}

/// Recurses until `depth` reaches `usize::MAX`, i.e. until the stack runs out. `seed` must
/// not be empty.
#[inline(never)]
pub fn descend(seed: &[u8], depth: usize) -> u64 {
    if depth == usize::MAX {
        return 0;
    }
    let n = seed.len();
    let at = |i: usize| u64::from(seed[depth.wrapping_mul(31).wrapping_add(i) % n]) << (i % 8);
    // Plain scalars (no array, nothing whose address is taken): wasm locals, not memory.
    let (a, b, c, d, e, f, g, h) = (at(0), at(1), at(2), at(3), at(4), at(5), at(6), at(7));
    let (i, j, k, l, m, o, p, q) = (at(8), at(9), at(10), at(11), at(12), at(13), at(14), at(15));
    let below = descend(seed, depth + 1);
    // A non-associative fold with the call's result: every value is needed after the call.
    let mix = |acc: u64, v: u64| (acc.rotate_left(5) ^ v).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let acc = mix(mix(mix(mix(below, a), b), c), d);
    let acc = mix(mix(mix(mix(acc, e), f), g), h);
    let acc = mix(mix(mix(mix(acc, i), j), k), l);
    mix(mix(mix(mix(acc, m), o), p), q)
}

trailwarden_plugin_sdk::export_plugin!(DeepRecursion);

#[cfg(test)]
mod tests {
    #[test]
    fn bottom_returns() {
        // Only the last frame: deeper recursion is what the host must stop.
        assert_eq!(super::descend(b"x", usize::MAX), 0);
        assert_ne!(super::descend(b"x", usize::MAX - 1), 0);
    }
}
