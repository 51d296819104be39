//! The SDK for trailwarden detection plugins.
//!
//! A plugin is a Rust crate built for `wasm32-wasip2`, which makes it a WebAssembly component
//! of the world `trailwarden:plugin/detector@0.1.0` (see `wit/plugin.wit` at the repository
//! root). Its logic is written against the plain types of this crate, so that it also builds
//! natively (with `serde_json` alone) for tests and benchmarks:
//!
//! ```ignore
//! use trailwarden_plugin_sdk::{Descriptor, Event, Finding};
//!
//! pub fn descriptor() -> Descriptor { /* name, version, EventBridge patterns */ }
//! pub fn detect(event: &Event) -> Vec<Finding> { /* pure logic */ }
//!
//! // On wasm32 this exports `describe` and `handle`; natively it expands to nothing.
//! trailwarden_plugin_sdk::export_detector!(describe: descriptor, detect: detect);
//! ```
//!
//! A plugin that needs the whole batch, or [`State`], implements [`Plugin`] and exports it
//! with [`export_plugin!`].

#[cfg(target_arch = "wasm32")]
extern crate self as trailwarden_plugin_sdk;

pub mod json;
pub mod log;
pub mod state;
mod types;

#[cfg(target_arch = "wasm32")]
pub mod component;

#[cfg(all(feature = "native-testing", not(target_arch = "wasm32")))]
pub mod testing;

pub use serde_json;
pub use state::{MemoryState, State};
pub use types::{
    capitalize, non_empty, Descriptor, Event, Finding, PluginError, Principal, Severity,
};

/// A plugin as the host sees it: `describe` and `handle` of the WIT world `detector`, over
/// the plain types of this crate.
pub trait Plugin {
    /// Name, version, EventBridge patterns and wanted capabilities.
    fn describe() -> Descriptor;

    /// Findings for a batch of events.
    ///
    /// # Errors
    /// [`PluginError::BadInput`] only when the batch is truly unreadable; an event that is
    /// merely not of interest (or whose `raw` is not JSON) just yields no finding.
    fn handle(events: Vec<Event>) -> Result<Vec<Finding>, PluginError>;
}

/// Exports a [`Plugin`] implementation as the component's `describe` and `handle`.
///
/// Expands to nothing unless the target is wasm32, so a plugin crate builds natively as a
/// plain library. Use it once per crate, at its root.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct __TrailwardenComponent;

            impl $crate::component::bindings::Guest for __TrailwardenComponent {
                fn describe() -> $crate::component::bindings::Descriptor {
                    <$plugin as $crate::Plugin>::describe().into()
                }

                fn handle(
                    events: ::std::vec::Vec<$crate::component::bindings::Event>,
                ) -> ::std::result::Result<
                    ::std::vec::Vec<$crate::component::bindings::Finding>,
                    $crate::component::bindings::PluginError,
                > {
                    $crate::component::handle::<$plugin>(events)
                }
            }

            $crate::component::bindings::__export_detector!(
                __TrailwardenComponent with_types_in $crate::component::bindings
            );
        };
    };
}

/// Exports a stateless, per-event detection: `describe` calls `$describe()`, and `handle`
/// calls `$detect(&event)` for each event of the batch and concatenates the findings.
///
/// ```ignore
/// trailwarden_plugin_sdk::export_detector!(describe: descriptor, detect: detect);
/// ```
#[macro_export]
macro_rules! export_detector {
    (describe: $describe:path, detect: $detect:path $(,)?) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct __TrailwardenDetector;

            impl $crate::Plugin for __TrailwardenDetector {
                fn describe() -> $crate::Descriptor {
                    $describe()
                }

                fn handle(
                    events: ::std::vec::Vec<$crate::Event>,
                ) -> ::std::result::Result<::std::vec::Vec<$crate::Finding>, $crate::PluginError>
                {
                    ::std::result::Result::Ok($crate::detect_each(&events, $detect))
                }
            }

            $crate::export_plugin!(__TrailwardenDetector);
        };
    };
}

/// Runs a per-event detection over a batch and concatenates the findings, in event order.
pub fn detect_each(events: &[Event], detect: impl Fn(&Event) -> Vec<Finding>) -> Vec<Finding> {
    events.iter().flat_map(detect).collect()
}
