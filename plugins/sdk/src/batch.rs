//! What a declared responder's `detect` and `respond` see besides the event: the [`Batch`]
//! that [`export_responder!`](crate::export_responder) builds once per `handle`.

use crate::capability::{log_receipt, NOTIFY_SEND};
use crate::{Baseline, Capabilities, Config, Event, Finding, History, State};

/// One batch as a responder sees it: the host's capabilities, state, first-seen history and
/// rate baselines, the plugin's config, and the settings read from that config (once per
/// batch, by the `settings` function given to [`export_responder!`](crate::export_responder);
/// `()` without one).
///
/// A plugin whose response needs only some of these takes the batch and picks them:
/// `batch.caps.notify(&event.id, batch.config.notify_target(), finding)`.
pub struct Batch<'a, S = ()> {
    /// The capabilities: only those the plugin declared are imported, the host grants or
    /// denies each call.
    pub caps: &'a dyn Capabilities,
    /// The plugin's key-value state in the host.
    pub state: &'a dyn State,
    /// Its first-seen history ([`crate::NoHistory`] unless it declared `history: true`).
    pub history: &'a dyn History,
    /// Its rate baselines ([`crate::NoBaseline`] unless it declared `baseline: true`).
    pub baseline: &'a dyn Baseline,
    /// The admin's config for the plugin.
    pub config: &'a Config,
    /// What the plugin read from `config` for this batch.
    pub settings: S,
}

/// [`crate::detect_and_respond`] over a [`Batch`]: `detect` each event, then `respond` to
/// each finding (unless the event was caused by trailwarden itself). Returns every finding,
/// in event order. The body of the `handle` that [`export_responder!`](crate::export_responder)
/// writes.
pub fn handle_batch<S>(
    events: &[Event],
    batch: &Batch<'_, S>,
    detect: impl Fn(&Event, &Batch<'_, S>) -> Vec<Finding>,
    respond: impl Fn(&Event, &Finding, &Batch<'_, S>),
) -> Vec<Finding> {
    crate::detect_and_respond(
        events,
        |event| detect(event, batch),
        |event, finding| respond(event, finding, batch),
    )
}

/// Ends a batch's data (its settings, events, config) without freeing it, in a component:
/// every batch runs in a fresh instance, dropped once `handle` returns, so freeing the
/// batch's allocations one by one would only cost time (for sigma's compiled rules, a tenth
/// of a one-event batch). Natively (tests, the native benchmark) it is dropped as usual.
pub fn end_of_batch<T>(data: T) {
    if cfg!(target_arch = "wasm32") {
        std::mem::forget(data);
    }
}

/// The response "tell someone": `notify.send` of the finding to the config's notify target
/// (`notify_target`, default `security-team`), the receipt logged. Give it as a
/// responder's `respond` when that is the whole response.
pub fn notify<S>(event: &Event, finding: &Finding, batch: &Batch<'_, S>) {
    let receipt = batch
        .caps
        .notify(&event.id, batch.config.notify_target(), finding);
    log_receipt(NOTIFY_SEND, &event.id, receipt);
}

/// No response: the default `respond` of a declared responder.
pub fn no_response<S>(event: &Event, finding: &Finding, batch: &Batch<'_, S>) {
    let _ = (event, finding, batch);
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use serde_json::json;

    use crate::capability::NOTIFY_SEND;
    use crate::{
        Batch, Config, Descriptor, Event, Finding, MemoryState, PluginError, RecordingCapabilities,
        Responder, Rule, Severity, State,
    };

    fn descriptor() -> Descriptor {
        Descriptor {
            name: "declared".into(),
            version: "1.0.0".into(),
            patterns: vec![r#"{"source":["aws.iam"]}"#.into()],
            capabilities: crate::strings(&[NOTIFY_SEND]),
            fixtures: Vec::new(),
            self_caused_events: false,
        }
    }

    fn finding(event: &Event, rule_id: &str) -> Finding {
        Finding {
            rule_id: rule_id.into(),
            severity: Severity::Low,
            title: "t".into(),
            description: "d".into(),
            resources: Vec::new(),
            dedup_key: format!("{rule_id}:{}", event.id),
            event_id: event.id.clone(),
            context: "{}".into(),
        }
    }

    /// A finding for every event named `Hit`.
    fn detect(event: &Event) -> Vec<Finding> {
        if event.name.as_deref() == Some("Hit") {
            vec![finding(event, "test.hit")]
        } else {
            Vec::new()
        }
    }

    crate::export_responder!(
        /// Detects per event and notifies: the keys most plugins give.
        Notifying {
            capabilities: &[NOTIFY_SEND],
            describe: descriptor,
            detect: detect,
            respond: crate::notify,
        }
    );

    crate::export_responder!(
        /// Judges each event alone: it declares no state.
        Judging {
            capabilities: &[],
            state: false,
            describe: descriptor,
            detect: detect,
        }
    );

    /// `threshold` from the config (default 2).
    fn threshold(config: &Config) -> i64 {
        config
            .u64("threshold")
            .and_then(|n| i64::try_from(n).ok())
            .unwrap_or(2)
    }

    /// A finding when the `threshold`-th `Hit` is counted in state.
    fn count(event: &Event, batch: &Batch<'_, i64>) -> Vec<Finding> {
        if event.name.as_deref() != Some("Hit") {
            return Vec::new();
        }
        if batch.state.increment("hits", 1, None) == batch.settings {
            vec![finding(event, "test.burst")]
        } else {
            Vec::new()
        }
    }

    crate::export_responder!(Counting {
        capabilities: &[],
        history: true,
        describe: descriptor,
        rules: |_| vec![Rule::new(
            "test.burst",
            Severity::Low,
            "Burst",
            &[],
            "d",
            "r",
            &[]
        )],
        settings: threshold,
        detect_with: count
    });

    /// The `threshold` of the config, which must be given.
    fn required_threshold(config: &Config) -> Result<i64, PluginError> {
        config
            .u64("threshold")
            .and_then(|n| i64::try_from(n).ok())
            .ok_or_else(|| PluginError::BadInput("no threshold".into()))
    }

    crate::export_responder!(Strict {
        capabilities: &[],
        describe: descriptor,
        try_settings: required_threshold,
        detect_with: count,
    });

    fn event(id: &str, name: &str) -> Event {
        Event {
            id: id.into(),
            name: Some(name.into()),
            ..Event::default()
        }
    }

    #[test]
    fn a_declared_responder_detects_each_event_and_responds_to_each_finding() {
        let caps = RecordingCapabilities::new();
        let events = [event("e1", "Hit"), event("e2", "Miss"), event("e3", "Hit")];
        let config = Config::from_value(json!({"notify_target": "ops"})).unwrap();
        let found = Notifying::handle(&events, &caps, &MemoryState::new(), &config).unwrap();
        let ids: Vec<&str> = found.iter().map(|f| f.event_id.as_str()).collect();
        assert_eq!(ids, ["e1", "e3"]);
        let calls = caps.calls();
        assert_eq!(calls.len(), 2);
        assert!(calls.iter().all(|c| c.capability == NOTIFY_SEND));
        assert_eq!(calls[0].event_id, "e1");
        assert_eq!(calls[0].args["target"], "ops");
        // The defaults of the keys it left out.
        assert_eq!(Notifying::CAPABILITIES, [NOTIFY_SEND]);
        assert_eq!((Notifying::HISTORY, Notifying::BASELINE), (false, false));
        assert!(Notifying::rules(&config).is_empty());
        assert_eq!(Notifying::describe_with_config(&config), descriptor());
    }

    #[test]
    fn a_responder_that_declares_no_state_is_run_without_one() {
        assert!(!Judging::STATE);
        assert!(Notifying::STATE && Counting::STATE, "state is the default");
        let events = [event("e1", "Hit"), event("e2", "Miss")];
        let state = crate::state::for_tests::<Judging>();
        let caps = RecordingCapabilities::new();
        let found = Judging::handle(&events, &caps, &*state, &Config::empty()).unwrap();
        assert_eq!(found.len(), 1, "it detects without touching state");
        // What a component declaring no state would do if it used one anyway: fail.
        let used = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| state.get("hits")));
        let message = *used.unwrap_err().downcast::<&str>().unwrap();
        assert!(message.contains("state: false"), "{message}");
        let kept = crate::state::for_tests::<Counting>();
        kept.set("hits", "1", None);
        assert_eq!(kept.get("hits").as_deref(), Some("1"));
    }

    #[test]
    fn a_declared_responder_does_not_respond_to_what_trailwarden_caused() {
        let caps = RecordingCapabilities::new();
        let mut own = event("e1", "Hit");
        own.self_caused = true;
        let found = Notifying::handle(&[own], &caps, &MemoryState::new(), &Config::empty());
        assert_eq!(found.unwrap().len(), 1, "the finding is still reported");
        assert!(caps.calls().is_empty());
    }

    #[test]
    fn settings_are_read_once_per_batch_and_detect_with_sees_the_state() {
        let caps = RecordingCapabilities::new();
        let state = MemoryState::new();
        let config = Config::from_value(json!({"threshold": 3})).unwrap();
        let hits: Vec<Event> = (1..=4).map(|i| event(&format!("e{i}"), "Hit")).collect();
        let found = Counting::handle(&hits, &caps, &state, &config).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].event_id, "e3",
            "the third hit reaches the threshold"
        );
        assert_eq!(state.get("hits").as_deref(), Some("4"));
        assert_eq!((Counting::HISTORY, Counting::BASELINE), (true, false));
        assert_eq!(Counting::rules(&config)[0].id, "test.burst");
        assert!(caps.calls().is_empty(), "no respond: no response");
    }

    #[test]
    fn settings_that_cannot_be_read_fail_the_batch_before_any_event() {
        let caps = RecordingCapabilities::new();
        let state = MemoryState::new();
        let hits = [event("e1", "Hit"), event("e2", "Hit")];
        let refused = Strict::handle(&hits, &caps, &state, &Config::empty());
        assert!(matches!(refused, Err(PluginError::BadInput(_))));
        assert_eq!(state.get("hits"), None, "no event was looked at");
        let config = Config::from_value(json!({"threshold": 2})).unwrap();
        let found = Strict::handle(&hits, &caps, &state, &config).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].event_id, "e2");
    }
}
