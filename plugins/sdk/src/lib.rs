//! The SDK for trailwarden detection-and-response plugins.
//!
//! A plugin is a Rust crate built for `wasm32-wasip2`, which makes it a WebAssembly component
//! of the world `trailwarden:plugin/responder@0.6.0` (see `wit/0.6.0/plugin.wit` at the
//! repository root). Its logic is written against the plain types of this crate, so that it
//! also builds natively (with `serde_json` alone) for tests and benchmarks.
//!
//! A stateless detection exports with one line:
//!
//! ```ignore
//! use trailwarden_plugin_sdk::{Descriptor, Event, Finding};
//!
//! pub fn descriptor() -> Descriptor { /* name, version, patterns, fixtures */ }
//! pub fn detect(event: &Event) -> Vec<Finding> { /* pure logic */ }
//!
//! // On wasm32 this exports `describe` and `handle`; natively it expands to nothing.
//! trailwarden_plugin_sdk::export_detector!(describe: descriptor, detect: detect);
//! ```
//!
//! A plugin that acts (or needs the whole batch, [`State`] or its [`Config`]) is a
//! [`Responder`]. Most say only their functions, and [`export_responder!`] writes the type,
//! the trait and the component glue:
//!
//! ```ignore
//! trailwarden_plugin_sdk::export_responder!(
//!     /// The plugin: `detect` each event, `notify` of each finding.
//!     MyRule {
//!         capabilities: &[capability::NOTIFY_SEND],
//!         describe: descriptor,
//!         rules: rules,
//!         detect: detect,
//!         respond: trailwarden_plugin_sdk::notify,
//!     }
//! );
//! ```
//!
//! Settings that a config can make impossible are `try_settings` (the batch fails). A
//! hand-written [`Responder`] is exported with `export_responder!(MyType)`. A component imports
//! only the capability functions listed in [`Responder::CAPABILITIES`], so a detector
//! imports none.

#[cfg(target_arch = "wasm32")]
extern crate self as trailwarden_plugin_sdk;

pub mod baseline;
mod batch;
pub mod capability;
pub mod config;
pub mod history;
pub mod json;
pub mod log;
pub mod notify_window;
pub mod policy;
pub mod state;
mod types;

#[cfg(target_arch = "wasm32")]
pub mod component;

#[cfg(target_arch = "wasm32")]
pub mod baseline_host;

#[cfg(all(feature = "native-testing", not(target_arch = "wasm32")))]
pub mod testing;

pub use baseline::{Baseline, MemoryBaseline, NoBaseline, RateInfo, RateQuery};
pub use batch::{end_of_batch, handle_batch, no_response, notify, Batch};
pub use capability::Capabilities;
#[cfg(not(target_arch = "wasm32"))]
pub use capability::RecordingCapabilities;
pub use config::Config;
pub use history::{History, HistoryError, MemoryHistory, NoHistory, SeenInfo, SeenQuery};
pub use notify_window::{NotifyWindow, WindowOpens};
pub use serde_json;
pub use state::{MemoryState, NoState, ReadCache, State};
pub use types::{
    capitalize, non_empty, Descriptor, Event, Finding, PluginError, Principal, Receipt, Rule,
    Severity,
};

/// A detection-and-response plugin: `describe` and `handle` of the WIT world `responder`,
/// over the plain types of this crate.
pub trait Responder {
    /// The capabilities it may call, by name (the constants of [`capability`]), e.g.
    /// `&[capability::NOTIFY_SEND]`.
    ///
    /// In a component this decides, at compile time, which capability functions the
    /// component imports: a call to one not listed is answered [`Receipt::Denied`] without
    /// reaching the host. `describe().capabilities` should list the same names (the native
    /// fixture runner checks both).
    const CAPABILITIES: &'static [&'static str];

    /// Name, version, EventBridge patterns, wanted capabilities and shipped fixtures.
    fn describe() -> Descriptor;

    /// [`Responder::describe`] given the plugin's config: what the component's `describe`
    /// answers. The host calls `describe` with the admin's config in force (and again with
    /// a fixture's own config to route that fixture's events), so a plugin whose rules come
    /// from its config can subscribe to just the events those rules can match; a config
    /// change reloads the plugin, which describes it again. Name, version, capabilities and
    /// fixtures must not depend on the config. The default ignores it.
    fn describe_with_config(config: &Config) -> Descriptor {
        let _ = config;
        Self::describe()
    }

    /// Its rule catalog (WIT 0.3.0 `rules`): one [`Rule`] per `rule_id` its findings can
    /// carry, given its config. `trailwarden rules list` prints it, and the native fixture
    /// runner checks that every finding's `rule_id` is in it.
    fn rules(config: &Config) -> Vec<Rule> {
        let _ = config;
        Vec::new()
    }

    /// Whether it keeps anything in the host's [`State`] (counters, windows, dedup marks).
    /// Without (`false`), its component does not import `state`, its `handle` gets
    /// [`NoState`] (which fails the batch if called), and, with no capability either, the
    /// host may run several of its batches at once: nothing one batch does can change
    /// another's outcome.
    const STATE: bool = true;

    /// Whether it asks the host's first-seen [`History`] (WIT 0.4.0). Only then does its
    /// component import `history` and its [`Responder::handle_with_history`] get the host's;
    /// otherwise it gets [`NoHistory`].
    const HISTORY: bool = false;

    /// Findings for a batch of events; capability calls are made on the way, each naming
    /// the event that caused it. Implement this or [`Responder::handle_with_history`] (each
    /// defaults to the other).
    ///
    /// # Errors
    /// [`PluginError::BadInput`] only when the batch is truly unreadable; an event that is
    /// merely not of interest (or whose `raw` is not JSON) just yields no finding.
    fn handle(
        events: &[Event],
        caps: &dyn Capabilities,
        state: &dyn State,
        config: &Config,
    ) -> Result<Vec<Finding>, PluginError> {
        Self::handle_with_history(events, caps, state, &NoHistory, config)
    }

    /// [`Responder::handle`] with the plugin's first-seen history, which the host and the
    /// native fixture runner call. A plugin that sets [`Responder::HISTORY`] implements this.
    ///
    /// # Errors
    /// As for [`Responder::handle`].
    fn handle_with_history(
        events: &[Event],
        caps: &dyn Capabilities,
        state: &dyn State,
        history: &dyn History,
        config: &Config,
    ) -> Result<Vec<Finding>, PluginError> {
        let _ = history;
        Self::handle(events, caps, state, config)
    }

    /// Whether it asks the host's rate [`Baseline`]s (WIT 0.5.0). Only then does its component
    /// import `baseline` and its [`Responder::handle_with_baseline`] get the host's;
    /// otherwise it gets [`NoBaseline`].
    const BASELINE: bool = false;

    /// [`Responder::handle_with_history`] with the plugin's rate baselines as well, which the
    /// host and the native fixture runner call. A plugin that sets [`Responder::BASELINE`]
    /// implements this (and its `handle_with_history` calls it with [`NoBaseline`]).
    ///
    /// # Errors
    /// As for [`Responder::handle`].
    fn handle_with_baseline(
        events: &[Event],
        caps: &dyn Capabilities,
        state: &dyn State,
        history: &dyn History,
        baseline: &dyn Baseline,
        config: &Config,
    ) -> Result<Vec<Finding>, PluginError> {
        let _ = baseline;
        Self::handle_with_history(events, caps, state, history, config)
    }
}

/// A plugin with no capability, state or config: `describe` and `handle` over owned
/// batches. The hostile test guests use it; new plugins use [`Responder`] or
/// [`export_detector!`].
pub trait Plugin {
    /// Name, version, EventBridge patterns and wanted capabilities.
    fn describe() -> Descriptor;

    /// Its rule catalog (none by default).
    fn rules() -> Vec<Rule> {
        Vec::new()
    }

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

            impl $crate::component::bindings::exports::trailwarden::plugin0_3_0::rules::Guest
                for __TrailwardenComponent
            {
                fn rules() -> ::std::vec::Vec<$crate::component::WitRule> {
                    $crate::component::rules(<$plugin as $crate::Plugin>::rules())
                }
            }

            $crate::component::bindings::__export_responder!(
                __TrailwardenComponent with_types_in $crate::component::bindings
            );
        };
    };
}

/// Exports a stateless, per-event detection: `describe` calls `$describe()`, and `handle`
/// calls `$detect(&event)` for each event of the batch and concatenates the findings.
///
/// ```ignore
/// trailwarden_plugin_sdk::export_detector!(describe: descriptor, detect: detect, rules: rules);
/// ```
///
/// `rules` (a `fn() -> Vec<Rule>`, the rule catalog) may be left out: the catalog is then
/// empty.
#[macro_export]
macro_rules! export_detector {
    (describe: $describe:path, detect: $detect:path $(,)?) => {
        $crate::export_detector!(describe: $describe, detect: $detect, rules: ::std::vec::Vec::new);
    };
    (describe: $describe:path, detect: $detect:path, rules: $rules:path $(,)?) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct __TrailwardenDetector;

            impl $crate::Plugin for __TrailwardenDetector {
                fn describe() -> $crate::Descriptor {
                    $describe()
                }

                fn rules() -> ::std::vec::Vec<$crate::Rule> {
                    $rules()
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

/// Declares a responder from its functions, or exports a [`Responder`] implementation as the
/// component's `describe`, `rules` and `handle`. Use it once per crate, at its root.
///
/// # The declared form
///
/// ```ignore
/// trailwarden_plugin_sdk::export_responder!(
///     /// Doc comments and attributes go to the type.
///     RootUsage {
///         capabilities: CAPABILITIES,          // &'static [&'static str]
///         describe: descriptor,                // fn() -> Descriptor
///         rules: rules,                        // fn(&Config) -> Vec<Rule>
///         settings: Settings::from_config,     // fn(&Config) -> S, once per batch
///                                              // (or try_settings: fallible)
///         detect: detect,                      // fn(&Event) -> Vec<Finding>
///         respond: respond,                    // fn(&Event, &Finding, &Batch<S>)
///     }
/// );
/// ```
///
/// It declares `pub struct RootUsage;`, implements [`Responder`] for it natively too (so
/// native tests call `RootUsage::handle` and the fixture runners take it), and on wasm32
/// exports it. `handle` builds one [`Batch`] (capabilities, state, history, baselines,
/// config, settings) and runs [`handle_batch`]: `detect` each event, `respond` to each
/// finding, no response to an event trailwarden itself caused.
///
/// The keys, in this order (a value is any expression of the type shown: a path, or a
/// closure such as `rules: |_| rules()`):
/// - `capabilities` (required): what the component imports and may call.
/// - `state: false`: it keeps nothing in the host's [`State`] (default `true`); see
///   [`Responder::STATE`].
/// - `history: true`, `baseline: true`: it asks the host's [`History`] or [`Baseline`]
///   (default `false`: it gets [`NoHistory`], [`NoBaseline`]).
/// - `describe` (required); `describe_with_config` (`fn(&Config) -> Descriptor`, default
///   `describe`), see [`Responder::describe_with_config`].
/// - `rules`: the rule catalog (default: none).
/// - `settings`: read from the config once per batch, handed to `detect_with` and `respond`
///   as `batch.settings` (default `()`); or `try_settings` (`fn(&Config) -> Result<S,
///   PluginError>`), for settings a config can make impossible (`sigma` compiles its rules
///   from it): the error fails the batch before any event is looked at.
/// - `detect` (`fn(&Event) -> Vec<Finding>`, the pure per-event logic), or `detect_with`
///   (`fn(&Event, &Batch<S>) -> Vec<Finding>`, for detections that read settings, state,
///   history or baselines): exactly one.
/// - `respond`: what to do about each finding (default [`no_response`]); [`notify`] is
///   "send it to the notify target".
///
/// Why a declaration and not a trait with default methods: what a plugin writes is then
/// only what differs (its functions, under the name of the part they play), each plugin's
/// functions keep the plain signatures its tests call, and the one `handle` every plugin
/// shared (and copied, ~26 lines each) lives here. Why a fixed order: `macro_rules!` cannot
/// take named keys in any order without a much harder macro; a key out of order fails to
/// compile (`no rules expected the token`), it never means something else.
///
/// # The type form
///
/// `export_responder!(MyType)` exports an existing [`Responder`] implementation: the
/// component glue the declared form ends with. No plugin of this repository writes its own
/// `impl Responder` any more (a fallible config is `try_settings`); the form stays public
/// for a plugin outside it whose `handle` is not "detect each event, respond to each
/// finding". `handle` gets the host's capabilities (only those in
/// [`Responder::CAPABILITIES`] are imported), the host's state, and the plugin's config
/// (`config.get`, once per batch). Expands to nothing unless the target is wasm32.
#[macro_export]
macro_rules! export_responder {
    (
        $(#[$attr:meta])*
        $name:ident {
            capabilities: $capabilities:expr
            $(, state: $state:expr)?
            $(, history: $history:expr)?
            $(, baseline: $baseline:expr)?
            , describe: $describe:expr
            $(, describe_with_config: $describe_with_config:expr)?
            $(, rules: $rules:expr)?
            $(, settings: $settings:expr)?
            $(, try_settings: $try_settings:expr)?
            $(, detect: $detect:expr)?
            $(, detect_with: $detect_with:expr)?
            $(, respond: $respond:expr)?
            $(,)?
        }
    ) => {
        $(#[$attr])*
        pub struct $name;

        impl $crate::Responder for $name {
            const CAPABILITIES: &'static [&'static str] = $capabilities;
            const STATE: bool = $crate::__or!($($state)?; true);
            const HISTORY: bool = $crate::__or!($($history)?; false);
            const BASELINE: bool = $crate::__or!($($baseline)?; false);

            fn describe() -> $crate::Descriptor {
                ($describe)()
            }

            fn describe_with_config(config: &$crate::Config) -> $crate::Descriptor {
                $crate::__or!($(($describe_with_config)(config))?; {
                    let _ = config;
                    <Self as $crate::Responder>::describe()
                })
            }

            fn rules(config: &$crate::Config) -> ::std::vec::Vec<$crate::Rule> {
                $crate::__or!($(($rules)(config))?; {
                    let _ = config;
                    ::std::vec::Vec::new()
                })
            }

            fn handle_with_history(
                events: &[$crate::Event],
                caps: &dyn $crate::Capabilities,
                state: &dyn $crate::State,
                history: &dyn $crate::History,
                config: &$crate::Config,
            ) -> ::std::result::Result<::std::vec::Vec<$crate::Finding>, $crate::PluginError> {
                <Self as $crate::Responder>::handle_with_baseline(
                    events,
                    caps,
                    state,
                    history,
                    &$crate::NoBaseline,
                    config,
                )
            }

            fn handle_with_baseline(
                events: &[$crate::Event],
                caps: &dyn $crate::Capabilities,
                state: &dyn $crate::State,
                history: &dyn $crate::History,
                baseline: &dyn $crate::Baseline,
                config: &$crate::Config,
            ) -> ::std::result::Result<::std::vec::Vec<$crate::Finding>, $crate::PluginError> {
                let batch = $crate::Batch {
                    caps,
                    state,
                    history,
                    baseline,
                    config,
                    settings: $crate::__settings!(config; $($settings)?; $($try_settings)?)?,
                };
                let findings = $crate::handle_batch(
                    events,
                    &batch,
                    $crate::__detector!($($detect)?; $($detect_with)?),
                    $crate::__or!($($respond)?; $crate::no_response),
                );
                $crate::end_of_batch(batch);
                ::std::result::Result::Ok(findings)
            }
        }

        $crate::export_responder!($name);
    };
    ($responder:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct __TrailwardenComponent;

            impl $crate::component::bindings::Guest for __TrailwardenComponent {
                fn describe() -> $crate::component::bindings::Descriptor {
                    $crate::component::responder_describe::<$responder>()
                }

                fn handle(
                    events: ::std::vec::Vec<$crate::component::bindings::Event>,
                ) -> ::std::result::Result<
                    ::std::vec::Vec<$crate::component::bindings::Finding>,
                    $crate::component::bindings::PluginError,
                > {
                    $crate::component::respond::<$responder>(events)
                }
            }

            impl $crate::component::bindings::exports::trailwarden::plugin0_3_0::rules::Guest
                for __TrailwardenComponent
            {
                fn rules() -> ::std::vec::Vec<$crate::component::WitRule> {
                    $crate::component::responder_rules::<$responder>()
                }
            }

            $crate::component::bindings::__export_responder!(
                __TrailwardenComponent with_types_in $crate::component::bindings
            );
        };
    };
}

/// `$value` when given, else `$default` (for [`export_responder!`]'s optional keys).
#[doc(hidden)]
#[macro_export]
macro_rules! __or {
    (; $default:expr) => {
        $default
    };
    ($value:expr; $default:expr) => {
        $value
    };
}

/// The settings of [`export_responder!`] for `$config`, as a `Result<S, PluginError>`:
/// `settings` (infallible), `try_settings` (its error fails the batch), or `()`; one at most.
#[doc(hidden)]
#[macro_export]
macro_rules! __settings {
    ($config:ident; ;) => {
        ::std::result::Result::<(), $crate::PluginError>::Ok(())
    };
    ($config:ident; $settings:expr;) => {
        ::std::result::Result::<_, $crate::PluginError>::Ok(($settings)($config))
    };
    ($config:ident; ; $try_settings:expr) => {
        ($try_settings)($config)
    };
    ($config:ident; $settings:expr; $try_settings:expr) => {
        ::core::compile_error!("export_responder!: give `settings` or `try_settings`, not both")
    };
}

/// The `detect` of [`export_responder!`] as a `Fn(&Event, &Batch<S>)`: `detect` (per event)
/// or `detect_with` (given the batch), exactly one.
#[doc(hidden)]
#[macro_export]
macro_rules! __detector {
    (; $detect_with:expr) => {
        $detect_with
    };
    ($detect:expr;) => {
        |event, _batch| ($detect)(event)
    };
    (;) => {
        ::core::compile_error!("export_responder!: give `detect` or `detect_with`")
    };
    ($detect:expr; $detect_with:expr) => {
        ::core::compile_error!("export_responder!: give `detect` or `detect_with`, not both")
    };
}

/// The JSON texts of fixture files of the calling crate, for [`Descriptor::fixtures`]:
/// `fixtures!["stop-logging.json", "not-tampering.json"]` embeds
/// `$CARGO_MANIFEST_DIR/fixtures/<file>` with `include_str!`. The native fixture runner
/// checks that every file in `fixtures/` is listed.
#[macro_export]
macro_rules! fixtures {
    ($($file:literal),* $(,)?) => {
        ::std::vec![$(
            ::std::string::String::from(::core::include_str!(::core::concat!(
                ::core::env!("CARGO_MANIFEST_DIR"), "/fixtures/", $file
            ))),
        )*]
    };
}

/// `names` as owned strings, e.g. `capabilities: strings(MyPlugin::CAPABILITIES)`.
pub fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

/// The common shape of a responder's `handle`: `detect` each event, then `respond` to each
/// finding, unless the event was caused by trailwarden itself ([`Event::self_caused`]: the
/// host withholds those from plugins that did not opt in, this is the second lock). Returns
/// every finding, in event order.
pub fn detect_and_respond(
    events: &[Event],
    detect: impl Fn(&Event) -> Vec<Finding>,
    mut respond: impl FnMut(&Event, &Finding),
) -> Vec<Finding> {
    let mut all = Vec::new();
    for event in events {
        let findings = detect(event);
        if event.self_caused && !findings.is_empty() {
            log::info(&format!(
                "event {} was caused by trailwarden itself: no response",
                event.id
            ));
        } else {
            for finding in &findings {
                respond(event, finding);
            }
        }
        all.extend(findings);
    }
    all
}

/// Runs a per-event detection over a batch and concatenates the findings, in event order.
pub fn detect_each(events: &[Event], detect: impl Fn(&Event) -> Vec<Finding>) -> Vec<Finding> {
    events.iter().flat_map(detect).collect()
}
