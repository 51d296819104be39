//! Runs the fixtures (findings and actions) natively through the plugin's `handle`, the
//! Panther comparison and the shared corpus through `detect`, and checks the rule table.
#![cfg(not(target_arch = "wasm32"))]

use std::collections::BTreeSet;

use service_watch::spec::Names;
use service_watch::{rules, ServiceWatch, CAPABILITIES};
use trailwarden_plugin_sdk::serde_json::{self, json, Value};
use trailwarden_plugin_sdk::{
    testing, Config, Event, MemoryState, Principal, RecordingCapabilities, Responder, Severity,
};

const DIR: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn fixtures() {
    testing::assert_responder_fixtures::<ServiceWatch>(DIR);
}

#[test]
fn panther_agreement() {
    // Through `handle`, with panther.json's config (burst thresholds of 1).
    testing::assert_responder_panther_agreement::<ServiceWatch>("service-watch", DIR);
}

#[test]
fn survives_the_corpus() {
    testing::assert_survives_corpus(service_watch::detect);
    testing::assert_responder_survives_corpus::<ServiceWatch>();
}

#[test]
fn the_source_index_offers_every_rule_that_applies_in_table_order() {
    // Every corpus event, one of an unknown source and one without a source.
    let mut events = testing::corpus_events();
    events.push(Event {
        source: Some("unknown.amazonaws.com".into()),
        name: Some("DeleteEverything".into()),
        ..Event::default()
    });
    events.push(Event::default());
    let mut offered = 0;
    for event in &events {
        let by_table: Vec<&str> = rules::all()
            .filter(|r| r.applies(event))
            .map(|r| r.id)
            .collect();
        let by_index: Vec<&str> = rules::for_source(event)
            .iter()
            .filter(|r| r.applies(event))
            .map(|r| r.id)
            .collect();
        assert_eq!(by_index, by_table, "{:?} {:?}", event.source, event.name);
        offered += by_index.len();
    }
    assert!(offered > 100, "the corpus reaches few rules: {offered}");
    // Every source a rule names, whether or not the corpus has it: its rules and those of
    // any service, in the table's order.
    for source in rules::all().flat_map(|r| r.sources.iter().copied()) {
        let event = Event {
            source: Some(source.into()),
            ..Event::default()
        };
        let by_table: Vec<&str> = rules::all()
            .filter(|r| r.sources.is_empty() || r.sources.contains(&source))
            .map(|r| r.id)
            .collect();
        let by_index: Vec<&str> = rules::for_source(&event).iter().map(|r| r.id).collect();
        assert_eq!(by_index, by_table, "{source}");
    }
    // And it narrows: an RDS call is offered RDS rules and those of any service only.
    let rds = Event {
        source: Some("rds.amazonaws.com".into()),
        ..Event::default()
    };
    let candidates = rules::for_source(&rds);
    assert!(
        candidates.len() < rules::all().count() / 2,
        "{}",
        candidates.len()
    );
    assert!(candidates
        .iter()
        .all(|r| r.sources.is_empty() || r.sources.contains(&"rds.amazonaws.com")));
}

#[test]
fn every_rule_has_a_positive_and_a_negative_fixture_and_a_panther_mapping() {
    let panther: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{DIR}/panther.json")).unwrap())
            .unwrap();
    let mapped: BTreeSet<&str> = panther["rules"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(Value::as_str)
        .collect();
    for rule in rules::all() {
        let short = rule.id.split_once('.').unwrap().1;
        for name in [format!("{short}.json"), format!("{short}-not.json")] {
            let path = format!("{DIR}/fixtures/{name}");
            let fixture: Value = serde_json::from_str(
                &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")),
            )
            .unwrap();
            let raised = fixture["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["rule_id"] == rule.id);
            assert_eq!(raised, !name.ends_with("-not.json"), "{name}");
        }
        assert!(mapped.contains(rule.id), "{} has no Panther rule", rule.id);
    }
}

#[test]
fn the_catalog_lists_every_rule_once_with_the_target() {
    let config = Config::from_value(json!({"notify_target": "soc"})).unwrap();
    let catalog = service_watch::catalog(&config);
    let ids: BTreeSet<&str> = catalog.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), catalog.len());
    assert_eq!(ids.len(), rules::all().count());
    assert!(catalog.iter().all(|r| r.description.contains("soc")));
    assert!(catalog.iter().all(|r| r.response == ["notify.send"]));
}

#[test]
fn patterns_name_their_calls_narrowly() {
    let d = service_watch::descriptor();
    assert_eq!(d.capabilities, CAPABILITIES);
    assert!(!d.self_caused_events);
    for p in &d.patterns {
        let v: Value = serde_json::from_str(p).expect("pattern is JSON");
        let detail = &v["detail"];
        // Every pattern names its services or the VPC endpoint record type.
        assert!(
            detail["eventSource"].is_array() || detail["eventType"] == json!(["AwsVpceEvent"]),
            "{p}"
        );
    }
    // Only VPC endpoint records take any name; IAM changes take every IAM call but reads,
    // which are not routed to the plugin.
    let unnamed: Vec<&str> = rules::all()
        .filter(|r| matches!(r.names, Names::Any))
        .map(|r| r.id)
        .collect();
    let all_but_reads: Vec<&str> = rules::all()
        .filter(|r| matches!(r.names, Names::AnyBut(_)))
        .map(|r| r.id)
        .collect();
    assert_eq!(all_but_reads, ["aws.iam.changed"]);
    let iam = rules::all().find(|r| r.id == "aws.iam.changed").unwrap();
    assert_eq!(
        iam.pattern()["detail"]["eventName"],
        json!([{"anything-but": {"prefix": ["Get", "List", "Describe", "Generate", "Simulate"]}}])
    );
    assert_eq!(
        unnamed,
        [
            "aws.vpce.access-denied",
            "aws.vpce.external-principal",
            "aws.vpce.s3-from-public-ip"
        ]
    );
}

fn event(source: &str, name: &str, raw: Value) -> Event {
    Event {
        id: "e1".into(),
        source: Some(source.into()),
        name: Some(name.into()),
        account: Some("111122223333".into()),
        region: Some("us-east-1".into()),
        principal: Principal {
            r#type: Some("IAMUser".into()),
            arn: Some("arn:aws:iam::111122223333:user/alice".into()),
            account_id: Some("111122223333".into()),
            user_name: Some("alice".into()),
            ..Default::default()
        },
        event_type: Some("AwsApiCall".into()),
        raw: raw.to_string(),
        ..Default::default()
    }
}

fn ids(e: &Event) -> Vec<String> {
    service_watch::detect(e)
        .into_iter()
        .map(|f| f.rule_id)
        .collect()
}

#[test]
fn a_finding_says_who_called_what_and_why_and_its_rule_carries_the_runbook() {
    let findings = service_watch::detect(&event(
        "rds.amazonaws.com",
        "DeleteDBSnapshot",
        json!({"requestParameters": {"dBSnapshotIdentifier": "prod-nightly"}}),
    ));
    let [finding] = findings.as_slice() else {
        panic!("one finding expected: {findings:?}")
    };
    let spec = rules::all().find(|r| r.id == finding.rule_id).unwrap();
    assert!(
        finding.description.starts_with(
            "IAM user alice called DeleteDBSnapshot in account 111122223333, region us-east-1"
        ),
        "{}",
        finding.description
    );
    assert!(
        finding.description.ends_with(spec.why),
        "{}",
        finding.description
    );
    // The runbook is the rule's: the console and each notification show it from the
    // catalog, so a finding's row does not repeat it.
    assert!(!finding.description.contains(spec.runbook));
    let config = Config::from_value(json!({})).unwrap();
    let rule = service_watch::catalog(&config)
        .into_iter()
        .find(|r| r.id == finding.rule_id)
        .unwrap();
    assert_eq!(rule.runbook, spec.runbook);
}

#[test]
fn same_names_from_other_services_and_endpoint_copies_are_ignored() {
    for (source, name) in [
        ("ec2.amazonaws.com", "DeleteDBSnapshot"),
        ("s3.amazonaws.com", "StopActivityStream"),
        ("ec2.amazonaws.com", "DeleteBucketReplication"),
        ("kms.amazonaws.com", "CreateRole"),
    ] {
        assert!(
            ids(&event(source, name, json!({}))).is_empty(),
            "{source} {name}"
        );
    }
    // An API call's VPC endpoint copy is not the call itself.
    let mut copy = event("rds.amazonaws.com", "DeleteDBSnapshot", json!({}));
    copy.event_type = Some("AwsVpceEvent".into());
    assert!(ids(&copy).is_empty());
}

#[test]
fn failed_calls_count_only_where_attempts_are_the_signal() {
    let mut denied = event("rds.amazonaws.com", "DeleteDBSnapshot", json!({}));
    denied.error_code = Some("AccessDenied".into());
    assert!(ids(&denied).is_empty());
    let mut mirror = event("ec2.amazonaws.com", "CreateTrafficMirrorSession", json!({}));
    mirror.error_code = Some("Client.NetworkInterfaceNotSupported".into());
    assert_eq!(ids(&mirror), ["aws.ec2.traffic-mirroring"]);
}

#[test]
fn conditions_read_the_request() {
    let modify = |params: Value| {
        ids(&event(
            "rds.amazonaws.com",
            "ModifyDBInstance",
            json!({ "requestParameters": params }),
        ))
    };
    assert_eq!(
        modify(json!({"deletionProtection": "false"})),
        ["aws.rds.deletion-protection-disabled"]
    );
    assert!(modify(json!({"deletionProtection": true})).is_empty());
    assert!(modify(json!({"allocatedStorage": 5})).is_empty());
    let put = |key: &str| {
        ids(&event(
            "s3.amazonaws.com",
            "PutObject",
            json!({"requestParameters": {"bucketName": "b", "key": key}}),
        ))
    };
    assert_eq!(
        put("a/b/HOW_TO_DECRYPT_FILES.txt"),
        ["aws.s3.ransom-note-uploaded"]
    );
    assert!(put("ransom/quarterly-report.pdf").is_empty());
    // An unreadable record raises only the rules that need no request.
    assert_eq!(
        ids(&Event {
            raw: "not json".into(),
            ..event("rds.amazonaws.com", "StopActivityStream", json!({}))
        }),
        ["aws.rds.activity-stream-stopped"]
    );
}

#[test]
fn every_finding_notifies_the_configured_target_unless_self_caused() {
    let run = |e: &Event, config: &Config| {
        let caps = RecordingCapabilities::new();
        let findings =
            ServiceWatch::handle(std::slice::from_ref(e), &caps, &MemoryState::new(), config)
                .unwrap();
        (findings.len(), caps.calls_json())
    };
    let stop = event("rds.amazonaws.com", "StopActivityStream", json!({}));
    let config = Config::from_value(json!({"notify_target": "oncall"})).unwrap();
    let (n, calls) = run(&stop, &config);
    assert_eq!(n, 1);
    assert_eq!(calls[0]["capability"], "notify.send");
    assert_eq!(calls[0]["args"]["target"], "oncall");
    let mut own = stop.clone();
    own.self_caused = true;
    assert_eq!(run(&own, &config), (1, Vec::new()));
}

#[test]
fn a_burst_is_reported_once_per_principal_when_it_reaches_its_threshold() {
    let state = MemoryState::new();
    let config = Config::from_value(json!({"thresholds": {"aws.ec2.ssh-keys-pushed": 3}})).unwrap();
    let push = |arn: &str| {
        let mut e = event(
            "ec2-instance-connect.amazonaws.com",
            "SendSSHPublicKey",
            json!({}),
        );
        e.principal.arn = Some(arn.into());
        service_watch::evaluate(&e, &state, &config)
            .into_iter()
            .map(|f| f.rule_id)
            .collect::<Vec<_>>()
    };
    let alice = "arn:aws:iam::111122223333:user/alice";
    let bob = "arn:aws:iam::111122223333:user/bob";
    assert!(push(alice).is_empty());
    assert!(push(alice).is_empty());
    assert!(push(bob).is_empty(), "counted per principal");
    assert_eq!(push(alice), ["aws.ec2.ssh-keys-pushed"]);
    assert!(push(alice).is_empty(), "once per window");
    // The stateless entry point never reports a burst.
    let e = event(
        "ec2-instance-connect.amazonaws.com",
        "SendSSHPublicKey",
        json!({}),
    );
    assert!(service_watch::detect(&e).is_empty());
    // An AWS service reading user data for a principal does not count.
    let mut read = event(
        "ec2.amazonaws.com",
        "DescribeInstanceAttribute",
        json!({"requestParameters": {"attribute": "userData"}}),
    );
    read.principal.invoked_by = Some("cloudformation.amazonaws.com".into());
    let once =
        Config::from_value(json!({"thresholds": {"aws.ec2.user-data-read-burst": 1}})).unwrap();
    assert!(service_watch::evaluate(&read, &MemoryState::new(), &once).is_empty());
    read.principal.invoked_by = None;
    assert_eq!(
        service_watch::evaluate(&read, &MemoryState::new(), &once).len(),
        1
    );
}

#[test]
fn an_incident_is_notified_once_per_window_and_every_finding_is_kept() {
    let run = |config: &Config| {
        let caps = RecordingCapabilities::new();
        let state = MemoryState::new();
        let mut second = event("rds.amazonaws.com", "DeleteDBSnapshot", json!({}));
        second.id = "e2".into();
        let events = [
            event("rds.amazonaws.com", "DeleteDBSnapshot", json!({})),
            second,
        ];
        let findings = ServiceWatch::handle(&events, &caps, &state, config).unwrap();
        (findings.len(), caps.calls_json().len())
    };
    assert_eq!(run(&Config::empty()), (2, 1));
    let every_time = Config::from_value(json!({"notify_window_seconds": 0})).unwrap();
    assert_eq!(run(&every_time), (2, 2));
}

#[test]
fn an_info_change_made_again_within_the_window_is_one_finding() {
    let state = MemoryState::new();
    let attach = |id: &str, user: &str, policy: &str| {
        let mut e = event(
            "iam.amazonaws.com",
            "AttachUserPolicy",
            json!({"requestParameters": {"userName": user, "policyArn": policy}}),
        );
        e.id = id.into();
        e
    };
    let changed = |e: &Event, config: &Config| {
        service_watch::evaluate(e, &state, config)
            .into_iter()
            .filter(|f| f.rule_id == "aws.iam.changed")
            .map(|f| f.event_id)
            .collect::<Vec<_>>()
    };
    let hourly = Config::empty();
    let read_only = "arn:aws:iam::aws:policy/ReadOnlyAccess";
    assert_eq!(changed(&attach("e1", "bob", read_only), &hourly), ["e1"]);
    // The same principal making the same change again: folded into e1's finding.
    assert!(changed(&attach("e2", "bob", read_only), &hourly).is_empty());
    // Another policy, or the same policy for another user, is another change.
    let admin = "arn:aws:iam::aws:policy/AdministratorAccess";
    assert_eq!(changed(&attach("e3", "bob", admin), &hourly), ["e3"]);
    assert_eq!(changed(&attach("e4", "carol", read_only), &hourly), ["e4"]);
    // Once the hour has passed (event time), the same change is a finding again.
    state.advance(3601);
    assert_eq!(changed(&attach("e5", "bob", read_only), &hourly), ["e5"]);
    // A window of 0: every call is a finding.
    let every_time = Config::from_value(json!({"repeat_window_seconds": 0})).unwrap();
    assert_eq!(
        changed(&attach("e6", "bob", read_only), &every_time),
        ["e6"]
    );
    assert_eq!(
        changed(&attach("e7", "bob", read_only), &every_time),
        ["e7"]
    );
    // Only info rules fold (rules reporting a threat keep every call, see
    // an_incident_is_notified_once_per_window_and_every_finding_is_kept), and the catalog
    // says which.
    let folding: Vec<&str> = rules::all()
        .filter(|r| r.folds_repeats())
        .map(|r| r.id)
        .collect();
    assert!(folding.contains(&"aws.iam.changed"), "{folding:?}");
    for rule in rules::all() {
        let entry = rule.rule("security-team", CAPABILITIES);
        assert_eq!(
            entry.description.contains("repeat_window_seconds"),
            rule.severity == Severity::Info && rule.threshold.is_none(),
            "{}",
            rule.id
        );
    }
}

#[test]
fn patterns_leave_out_failed_calls_unless_attempts_count() {
    for rule in rules::all() {
        let error_code = &rule.pattern()["detail"]["errorCode"];
        if rule.attempts {
            assert!(error_code.is_null(), "{}: {error_code}", rule.id);
        } else {
            assert_eq!(
                *error_code,
                json!([{"exists": false}, null, ""]),
                "{}",
                rule.id
            );
        }
    }
}
