//! Runs the fixtures and the Panther comparison natively, through `detect`.
#![cfg(not(target_arch = "wasm32"))]

use trailwarden_plugin_sdk::testing;

const DIR: &str = env!("CARGO_MANIFEST_DIR");

/// The detector as a responder that calls nothing, so that the fixture runner also checks
/// its rule catalog against the rule ids the fixtures raise.
struct AsResponder;

impl trailwarden_plugin_sdk::Responder for AsResponder {
    const CAPABILITIES: &'static [&'static str] = &[];

    fn describe() -> trailwarden_plugin_sdk::Descriptor {
        console_no_mfa::descriptor()
    }

    fn rules(_config: &trailwarden_plugin_sdk::Config) -> Vec<trailwarden_plugin_sdk::Rule> {
        console_no_mfa::rules()
    }

    fn handle(
        events: &[trailwarden_plugin_sdk::Event],
        _caps: &dyn trailwarden_plugin_sdk::Capabilities,
        _state: &dyn trailwarden_plugin_sdk::State,
        _config: &trailwarden_plugin_sdk::Config,
    ) -> Result<Vec<trailwarden_plugin_sdk::Finding>, trailwarden_plugin_sdk::PluginError> {
        Ok(trailwarden_plugin_sdk::detect_each(
            events,
            console_no_mfa::detect,
        ))
    }
}

#[test]
fn fixtures() {
    testing::assert_fixtures(DIR, console_no_mfa::detect);
    testing::assert_responder_fixtures::<AsResponder>(DIR);
}

#[test]
fn panther_agreement() {
    testing::assert_panther_agreement("console-no-mfa", DIR, console_no_mfa::detect);
}

#[test]
fn survives_the_corpus() {
    testing::assert_survives_corpus(console_no_mfa::detect);
}

#[test]
fn descriptor_names_the_crate_and_parses() {
    let d = console_no_mfa::descriptor();
    assert_eq!(d.name, "console-no-mfa");
    assert_eq!(d.version, env!("CARGO_PKG_VERSION"));
    assert!(d.capabilities.is_empty());
    assert!(!d.self_caused_events);
    testing::assert_ships_fixtures(DIR, &d);
    for p in &d.patterns {
        let v: trailwarden_plugin_sdk::serde_json::Value =
            trailwarden_plugin_sdk::serde_json::from_str(p).expect("pattern is JSON");
        assert!(v.is_object());
    }
}

#[test]
fn unreadable_raw_gives_no_finding() {
    let e = trailwarden_plugin_sdk::Event {
        id: "e1".into(),
        source: Some("signin.amazonaws.com".into()),
        name: Some("ConsoleLogin".into()),
        principal: trailwarden_plugin_sdk::Principal {
            r#type: Some("IAMUser".into()),
            ..Default::default()
        },
        mfa_authenticated: Some(false),
        raw: "{\"truncated".into(),
        ..Default::default()
    };
    assert!(console_no_mfa::detect(&e).is_empty());
}
