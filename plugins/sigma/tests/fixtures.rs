//! Runs the fixtures natively through the plugin's `handle` (with the empty config, so the
//! shipped rules), checks the descriptor and the rule catalog, and survives the shared corpus.
//!
//! The catalog check is this plugin's own: the SDK's `assert_catalog` requires an ATT&CK
//! technique per rule, and 7 of the shipped Sigma rules carry none (only tactic tags such as
//! `attack.stealth`).
#![cfg(not(target_arch = "wasm32"))]

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use sigma::{RuleSet, Sigma};
use trailwarden_plugin_sdk::serde_json::{self, Value};
use trailwarden_plugin_sdk::{testing, Config, Responder};

const DIR: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn fixtures() {
    testing::assert_describes::<Sigma>(DIR);
    let fixtures = testing::load_fixtures(&Path::new(DIR).join("fixtures"));
    assert!(fixtures.len() >= 7);
    let raised = RefCell::new(BTreeSet::new());
    let handle = |events: &[trailwarden_plugin_sdk::Event],
                  caps: &dyn trailwarden_plugin_sdk::Capabilities,
                  state: &dyn trailwarden_plugin_sdk::State,
                  config: &Config| {
        let findings = Sigma::handle(events, caps, state, config)?;
        raised
            .borrow_mut()
            .extend(findings.iter().map(|f| f.rule_id.clone()));
        Ok(findings)
    };
    let patterns = Sigma::describe().patterns;
    let mut failures = String::new();
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    for f in &fixtures {
        if let Err(e) = testing::run_routed_fixture(f, &patterns, &handle, Sigma::CAPABILITIES) {
            failures.push_str(&format!("\n{} ({}): {e}", f.name, f.path.display()));
        }
        for input in &f.events {
            let id = testing::event_from_input(input).expect("an object").id;
            if let Some(other) = ids.insert(id.clone(), f.name.clone()) {
                failures.push_str(&format!("\n{}: eventID {id} also in `{other}`", f.name));
            }
        }
    }
    assert!(failures.is_empty(), "fixtures failed:{failures}");
    let raised = raised.into_inner();
    println!(
        "{} fixtures pass, raising {} rule ids",
        fixtures.len(),
        raised.len()
    );
    assert_catalog(&raised);
}

/// The catalog: unique ids, each with a title, description and runbook, techniques (when
/// any) of the form T1234[.567], no response, a refusal reason only on refused rules, and
/// every rule id the fixtures raised catalogued and not refused.
fn assert_catalog(raised: &BTreeSet<String>) {
    let rules = Sigma::rules(&Config::empty());
    assert_eq!(rules.len(), 57, "one catalog entry per shipped rule");
    let mut ids = BTreeSet::new();
    let mut without_technique = 0;
    for rule in &rules {
        assert!(ids.insert(rule.id.clone()), "{} catalogued twice", rule.id);
        assert!(rule.id.starts_with(sigma::RULE_PREFIX), "{}", rule.id);
        assert!(
            !rule.title.is_empty() && !rule.description.is_empty() && !rule.runbook.is_empty(),
            "{}: title, description and runbook must be given",
            rule.id
        );
        assert!(
            rule.description.contains("Detection Rule License 1.1"),
            "{}: the description names author and licence",
            rule.id
        );
        for t in &rule.techniques {
            let ok = t.starts_with('T')
                && t[1..]
                    .split('.')
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
            assert!(ok, "{}: technique {t} is not an ATT&CK id", rule.id);
        }
        if rule.techniques.is_empty() {
            without_technique += 1;
        }
        assert!(rule.response.is_empty(), "{}: it only reports", rule.id);
        assert!(
            rule.refused.is_none(),
            "{} refused: {:?}",
            rule.id,
            rule.refused
        );
    }
    println!(
        "catalog: {} rules, {without_technique} without an ATT&CK technique",
        rules.len()
    );
    assert_eq!(without_technique, 7);
    for id in raised {
        assert!(ids.contains(id), "{id} raised but not catalogued");
    }
}

#[test]
fn catalog_entries_carry_the_rule_metadata() {
    let rules = Sigma::rules(&Config::empty());
    let get = |id: &str| rules.iter().find(|r| r.id == id).expect(id);
    let trail = get("sigma.4db60cc0-36fb-42b7-9b58-a5b53019fb74");
    assert_eq!(trail.title, "AWS CloudTrail Important Change");
    assert_eq!(trail.severity.as_str(), "medium");
    assert_eq!(trail.techniques, vec!["T1685.002"]);
    assert!(trail
        .description
        .starts_with("Detects disabling, deleting and updating of a Trail"));
    assert!(trail
        .description
        .ends_with("Sigma rule by vitaliy0x1, Detection Rule License 1.1."));
    assert_eq!(
        trail.runbook,
        format!(
            "Rule out the known false positive: Valid change in a Trail. Otherwise: {}",
            sigma::GENERIC_RUNBOOK
        )
    );
    let saml = get("sigma.f43f5d2f-3f2a-4cc8-b1af-81fde7dbaf0e");
    assert!(saml
        .runbook
        .starts_with("Rule out the known false positives: Automated processes"));
    // `falsepositives: [Unknown]`: the generic runbook.
    let ses = get("sigma.20f754db-d025-4a8f-9d74-e0037e999a9a");
    assert_eq!(ses.runbook, sigma::GENERIC_RUNBOOK);
    let bucket = get("sigma.39c9f26d-6e3b-4dbb-9c7a-4154b0281112");
    assert!(
        bucket.techniques.is_empty(),
        "only `attack.stealth`: a tactic"
    );
    let imds = get("sigma.352a918a-34d8-4882-8470-44830c507aa3");
    assert_eq!(imds.severity.as_str(), "high");
}

#[test]
fn survives_the_corpus() {
    let set = RuleSet::embedded();
    let findings = testing::assert_survives_corpus(|e| set.detect(e));
    println!("corpus: {findings} findings through detect");
    let run = testing::assert_responder_survives_corpus::<Sigma>();
    assert!(run.calls.is_empty(), "it calls no capability");
}

#[test]
fn descriptor_names_the_crate_and_subscribes_to_its_rules() {
    let d = sigma::descriptor();
    assert_eq!(d.name, "sigma");
    assert_eq!(d.version, env!("CARGO_PKG_VERSION"));
    assert!(d.capabilities.is_empty());
    assert!(!d.self_caused_events);
    // The shipped rules' union, which `describe` with the empty config answers too; a
    // config's rules give theirs.
    assert_eq!(d.patterns, RuleSet::embedded().patterns());
    assert_eq!(
        Sigma::describe_with_config(&Config::empty()).patterns,
        d.patterns
    );
    for p in &d.patterns {
        let p: Value = serde_json::from_str(p).expect("pattern is JSON");
        assert_eq!(
            p["detail-type"],
            serde_json::json!([{"suffix": "via CloudTrail"}])
        );
    }
    // Rules that cannot be read subscribe to every CloudTrail event: the error shows in
    // `handle`, not as silence.
    let bad = Config::from_value(serde_json::json!({"rules": "not a list"})).unwrap();
    assert_eq!(Sigma::describe_with_config(&bad).patterns, [sigma::PATTERN]);
}

#[test]
fn findings_carry_the_rule_and_the_event() {
    let set = RuleSet::embedded();
    let record = serde_json::json!({
        "eventVersion": "1.08", "eventTime": "2024-03-01T10:00:00Z",
        "eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging",
        "awsRegion": "eu-west-1", "sourceIPAddress": "203.0.113.9", "userAgent": "aws-cli/2.15.0",
        "userIdentity": {"type": "IAMUser", "userName": "bob", "accountId": "111122223333",
            "arn": "arn:aws:iam::111122223333:user/bob"},
        "requestParameters": {"name": "org-trail"}, "responseElements": null,
        "resources": [{"ARN": "arn:aws:cloudtrail:eu-west-1:111122223333:trail/org-trail"}],
        "eventID": "f1", "eventType": "AwsApiCall", "recipientAccountId": "111122223333"
    });
    let event = testing::event_from_record(&record);
    let findings = set.detect(&event);
    assert_eq!(findings.len(), 1, "{findings:?}");
    let f = &findings[0];
    assert_eq!(f.rule_id, "sigma.4db60cc0-36fb-42b7-9b58-a5b53019fb74");
    assert_eq!(f.title, "AWS CloudTrail Important Change");
    assert_eq!(f.event_id, "f1");
    assert_eq!(
        f.resources,
        vec!["arn:aws:cloudtrail:eu-west-1:111122223333:trail/org-trail"]
    );
    assert_eq!(
        f.dedup_key,
        "sigma.4db60cc0-36fb-42b7-9b58-a5b53019fb74:111122223333:arn:aws:iam::111122223333:user/bob"
    );
    assert!(
        f.description.contains(
            "Matched: IAM user bob called cloudtrail:StopLogging in account 111122223333 \
             (eu-west-1) from 203.0.113.9 (user agent: aws-cli/2.15.0)."
        ),
        "{}",
        f.description
    );
    assert!(f
        .description
        .contains("by vitaliy0x1 (Detection Rule License 1.1)"));
    let ctx: Value = serde_json::from_str(&f.context).unwrap();
    assert_eq!(ctx["sigma_id"], "4db60cc0-36fb-42b7-9b58-a5b53019fb74");
    assert_eq!(ctx["title"], "AWS CloudTrail Important Change");
    assert_eq!(ctx["level"], "medium");
    assert_eq!(ctx["author"], "vitaliy0x1");
    assert_eq!(ctx["tags"][0], "attack.defense-impairment");
    assert!(ctx["references"].as_array().is_some_and(|r| !r.is_empty()));
    assert_eq!(
        ctx["matched_searches"],
        serde_json::json!(["selection_source"])
    );
    assert_eq!(ctx["rule_file"], "aws_cloudtrail_disable_logging.yml");
    assert_eq!(ctx["license"], "Detection Rule License 1.1");
}
