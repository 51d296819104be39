//! `service-watch`: changes and misuse across AWS services that the other plugins do not
//! cover: databases (RDS), compute and network (EC2, VPC, Lambda, CodeBuild), S3 data and
//! configuration, identity (IAM, root, STS, sign-in), logging and security services, and
//! reconnaissance, including VPC endpoint records.
//!
//! Each rule is one row of a table (`rules/<domain>.rs`, shape in `spec.rs`): the calls it
//! looks at, whether failed calls count, and a condition on the record. The EventBridge
//! patterns are made from the same rows, so the plugin only receives those calls. Rules are
//! independent: one event can raise several findings (a `DeleteBucketReplication` is both a
//! bucket configuration change and a replication deletion).
//!
//! Burst rules (`rules/bursts.rs`) count matching calls per principal in host state and
//! report once a threshold is reached (config `thresholds`: rule id -> count).
//!
//! Info rules (views of how often things change: IAM changes, bucket configuration, images)
//! fold repeats: the same principal making the same call with the same parameters again within
//! `repeat_window_seconds` (3600, on event time, kept in state; 0 turns it off) raises no
//! new finding.
//!
//! Response: every finding is sent with `notify.send` to the config's `notify_target`
//! (default `security-team`), once per dedup key per `notify_window_seconds` (3600).

pub mod rules;
pub mod spec;

use trailwarden_plugin_sdk::capability::NOTIFY_SEND;
use trailwarden_plugin_sdk::{
    Batch, Config, Descriptor, Event, Finding, NotifyWindow, Rule, State, WindowOpens,
};

use spec::Facts;

/// The capabilities it calls.
pub const CAPABILITIES: &[&str] = &[NOTIFY_SEND];

/// Name, version, one EventBridge pattern per rule, and the fixtures.
pub fn descriptor() -> Descriptor {
    let mut patterns: Vec<String> = rules::all().map(|r| r.pattern().to_string()).collect();
    patterns.sort();
    patterns.dedup();
    Descriptor {
        name: env!("CARGO_PKG_NAME").to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        patterns,
        capabilities: trailwarden_plugin_sdk::strings(CAPABILITIES),
        fixtures: fixtures(),
        // It acts: trailwarden's own calls must not come back to it.
        self_caused_events: false,
    }
}

include!("fixture_list.rs");

/// The rule catalog, naming the notify target of `config`.
pub fn catalog(config: &Config) -> Vec<Rule> {
    let target = config.notify_target();
    rules::all().map(|r| r.rule(target, CAPABILITIES)).collect()
}

/// The findings of the per-event rules for one event: one per rule that matches it, repeats
/// included (burst rules and folding repeats need state: [`evaluate`]).
pub fn detect(event: &Event) -> Vec<Finding> {
    let candidates: Vec<&spec::Spec> = rules::for_source(event)
        .iter()
        .copied()
        .filter(|r| r.threshold.is_none() && r.applies(event))
        .collect();
    if candidates.is_empty() {
        return Vec::new();
    }
    let facts = Facts::of(event);
    candidates
        .into_iter()
        .filter(|r| (r.when)(&facts))
        .map(|r| r.finding(&facts))
        .collect()
}

/// Every rule for one event: the per-event ones, and the burst rules, whose matching calls
/// are counted per rule, account and principal in `state` (expiring after the window, on
/// event time); a burst is reported once, by the call that reaches its threshold. An info
/// rule's repeat of a change within `repeat_window_seconds` is left out.
pub fn evaluate(event: &Event, state: &dyn State, config: &Config) -> Vec<Finding> {
    // The calls each rule looks at are told from the parsed fields; the record is read
    // only when some rule looks at this one, and each of its fields when a rule reads it.
    let candidates: Vec<&spec::Spec> = rules::for_source(event)
        .iter()
        .copied()
        .filter(|r| r.applies(event))
        .collect();
    if candidates.is_empty() {
        return Vec::new();
    }
    let facts = Facts::of(event);
    let repeat_window = window_seconds(
        config,
        "repeat_window_seconds",
        DEFAULT_REPEAT_WINDOW_SECONDS,
    );
    let mut findings = Vec::new();
    for rule in candidates.into_iter().filter(|r| (r.when)(&facts)) {
        let Some(threshold) = rule.threshold else {
            // Told before the finding is built: most repeats are dropped.
            if !(rule.folds_repeats() && repeats_within(rule, &facts, repeat_window, state)) {
                findings.push(rule.finding(&facts));
            }
            continue;
        };
        let limit = config
            .get("thresholds")
            .and_then(|t| t.get(rule.id))
            .and_then(|v| v.as_u64())
            .filter(|n| *n > 0)
            .unwrap_or(threshold.count);
        let key = format!(
            "burst:{}:{}:{}",
            rule.id,
            event.account_or_unknown(),
            spec::principal_key(event)
        );
        let count = state.increment(&key, 1, Some(threshold.window_seconds));
        if u64::try_from(count).is_ok_and(|c| c == limit) {
            let mut finding = rule.finding(&facts);
            finding.title = format!(
                "{} ({limit} calls within {} minutes)",
                finding.title,
                threshold.window_seconds / 60
            );
            findings.push(finding);
        }
    }
    findings
}

/// The default of `repeat_window_seconds`: an hour.
pub const DEFAULT_REPEAT_WINDOW_SECONDS: u32 = 3600;

/// A window in seconds from the config (`repeat_window_seconds`, `notify_window_seconds`),
/// `default` when unset; 0 turns the window off.
fn window_seconds(config: &Config, key: &str, default: u32) -> u32 {
    config
        .u64(key)
        .map_or(default, |s| u32::try_from(s).unwrap_or(u32::MAX))
}

/// Whether `rule`'s finding for this event repeats one raised within `window` seconds (event
/// time, in state): the same rule, account, region, principal and call (its dedup key) with
/// the same request parameters and resources, the same change made again. Only the first
/// is recorded: an info rule is a view of how often things change, and a change re-applied
/// again and again (a deployment putting the same policy) would otherwise be a row, its
/// event's record and a notification check each time.
fn repeats_within(rule: &spec::Spec, facts: &Facts, window: u32, state: &dyn State) -> bool {
    use std::hash::{DefaultHasher, Hash, Hasher};
    if window == 0 {
        return false;
    }
    // Hashed, so a long principal or parameter list cannot push the key past the host's
    // limit. The hash may differ across Rust releases: a rebuilt plugin can then raise a
    // repeat once more, never fold a different change.
    let mut hasher = DefaultHasher::new();
    (rule.dedup_key(facts), spec::resources(facts)).hash(&mut hasher);
    // The parameters' text as written in the record, not parsed: the same change made again
    // is the same call written the same way.
    match facts.record_text("requestParameters") {
        Some(parameters) => {
            hasher.write_u8(1);
            hasher.write(parameters.get().as_bytes());
        }
        None => hasher.write_u8(0),
    }
    let key = format!("repeat:{}:{:016x}", rule.id, hasher.finish());
    if state.get(&key).is_some() {
        return true;
    }
    state.set(&key, &facts.event.id, Some(window));
    false
}

/// The default of `notify_window_seconds`: one notification per incident (dedup key) an hour.
pub const DEFAULT_NOTIFY_WINDOW_SECONDS: u32 = 3600;

/// The response to one finding: sent to the notify target, unless a finding with the same
/// dedup key (rule, account, region, principal, call) was sent within
/// `notify_window_seconds` (kept in state). The mark is set whatever the host decided: a
/// notification denied (its hourly budget spent, say) is one row in the actions table per
/// incident and window, not one per finding, each written with a sync to disk. Every
/// finding is recorded either way.
pub fn respond(event: &Event, finding: &Finding, batch: &Batch) {
    let config = batch.config;
    let window = NotifyWindow {
        target: config.notify_target(),
        seconds: window_seconds(
            config,
            "notify_window_seconds",
            DEFAULT_NOTIFY_WINDOW_SECONDS,
        ),
        opens: WindowOpens::Always,
    };
    window.notify(event, finding, batch.caps, batch.state);
}

trailwarden_plugin_sdk::export_responder!(
    /// The plugin: [`evaluate`] each event, [`respond`] to each finding.
    ServiceWatch {
        capabilities: CAPABILITIES,
        describe: descriptor,
        rules: catalog,
        detect_with: |event, batch| evaluate(event, batch.state, batch.config),
        respond: respond,
    }
);
