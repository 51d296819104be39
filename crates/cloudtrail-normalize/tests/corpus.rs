//! The shared corpus of real records, in every form, through the public API.

mod common;

use std::collections::BTreeMap;

use cloudtrail_normalize::{normalize_bytes, normalize_value, Item, NormalizedEvent};
use common::{corpus_path, corpus_records, gzip, opts, tally};
use serde_json::{json, Value};

/// Normalises every corpus record on its own and returns the events by line.
fn corpus_events() -> Vec<(common::CorpusRecord, Item)> {
    corpus_records()
        .into_iter()
        .map(|r| {
            let mut items = normalize_value(r.record.clone(), &opts());
            assert_eq!(
                items.len(),
                1,
                "line {} ({}/{}): expected exactly one item, got {items:#?}",
                r.line,
                r.source,
                r.form
            );
            let item = items.remove(0);
            (r, item)
        })
        .collect()
}

#[test]
fn every_record_yields_one_item_of_the_expected_kind() {
    let mut per_form: BTreeMap<String, BTreeMap<&'static str, usize>> = BTreeMap::new();
    for (r, item) in corpus_events() {
        *per_form
            .entry(r.form.clone())
            .or_default()
            .entry(item.outcome())
            .or_default() += 1;
        match (r.form.as_str(), &item) {
            ("insight", Item::Event(e)) => {
                assert_eq!(e.event_type.as_deref(), Some("AwsCloudTrailInsight"));
                assert_eq!(
                    e.detail_type, "AWS Insight via CloudTrail",
                    "line {}",
                    r.line
                );
                assert!(e.is_signal(), "line {}", r.line);
            }
            ("insight", other) => panic!("line {}: insight not an event: {other:#?}", r.line),
            (_, Item::Event(e)) => {
                assert!(!e.id.is_empty(), "line {}", r.line);
                assert!(e.record.is_object(), "line {}", r.line);
                assert!(
                    !e.record.as_object().is_some_and(|m| {
                        m.keys().any(|k| k.starts_with('@'))
                            || m.contains_key("detail")
                            || m.contains_key("CloudTrailEvent")
                    }),
                    "line {}: record not unwrapped: {}",
                    r.line,
                    e.raw_json()
                );
                assert!(e.detail_type.ends_with("via CloudTrail"), "line {}", r.line);
            }
            (form, other) => panic!("line {} ({form}): not an event: {other:#?}", r.line),
        }
    }
    let summary: BTreeMap<&str, Vec<(&str, usize)>> = per_form
        .iter()
        .map(|(form, m)| (form.as_str(), m.iter().map(|(k, v)| (*k, *v)).collect()))
        .collect();
    println!("per-form outcomes: {summary:?}");
    let count = |form: &str, outcome: &str| per_form[form].get(outcome).copied().unwrap_or(0);
    assert_eq!(count("record", "event"), 91);
    assert_eq!(count("eventbridge", "event"), 15);
    assert_eq!(count("lookup_events", "event"), 6);
    assert_eq!(count("logstash_record", "event"), 103);
    assert_eq!(count("insight", "event"), 3);
}

/// Finds the event with this eventID (and name, where ids repeat).
fn find<'a>(events: &'a [NormalizedEvent], id: &str, name: Option<&str>) -> &'a NormalizedEvent {
    let found: Vec<_> = events
        .iter()
        .filter(|e| e.id == id && (name.is_none() || e.name.as_deref() == name))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "eventID {id} {name:?}: {} matches",
        found.len()
    );
    found[0]
}

fn all_events() -> Vec<NormalizedEvent> {
    corpus_events()
        .into_iter()
        .filter_map(|(_, item)| match item {
            Item::Event(e) => Some(e),
            _ => None,
        })
        .collect()
}

#[test]
fn spot_checks_by_event_id() {
    let events = all_events();

    // logstash: '@' fields gone, time from @timestamp, mfa from text.
    let e = find(&events, "fd4f1042-c7f6-4107-a6ee-d841d92596e7", None);
    assert_eq!(e.name.as_deref(), Some("DescribeInstanceTypes"));
    assert_eq!(e.principal.kind.as_deref(), Some("IAMUser"));
    assert_eq!(e.principal.user_name.as_deref(), Some("pedro"));
    assert_eq!(e.account.as_deref(), Some("123456789123"));
    assert_eq!(e.mfa_authenticated, Some(true));
    assert_eq!(e.time.as_deref(), Some("2020-09-14T00:44:23.000Z"));
    assert_eq!(e.record.get("@version"), None);
    assert_eq!(e.envelope_source().as_deref(), Some("aws.ec2"));

    // AssumedRole: user name from the session issuer.
    let e = find(&events, "a0ed971f-389f-406a-9fcf-887c5ca6903a", None);
    assert_eq!(e.name.as_deref(), Some("DescribeLaunchConfigurations"));
    assert_eq!(e.principal.kind.as_deref(), Some("AssumedRole"));
    assert_eq!(e.principal.user_name.as_deref(), Some("someRole"));
    assert_eq!(
        e.principal.session_issuer_arn.as_deref(),
        Some("arn:aws:iam::111111111111:role/someRole")
    );
    assert_eq!(
        e.principal.invoked_by.as_deref(),
        Some("config.amazonaws.com")
    );
    assert_eq!(e.source_ip.as_deref(), Some("config.amazonaws.com"));
    assert_eq!(e.account.as_deref(), Some("111111111111"));
    assert_eq!(e.mfa_authenticated, Some(false));

    // Console sign-in without MFA and without recipientAccountId.
    let e = find(&events, "3fcfb182-98f8-4744-bd45-10a395ab61cb", None);
    assert_eq!(e.name.as_deref(), Some("ConsoleLogin"));
    assert_eq!(e.principal.kind.as_deref(), Some("IAMUser"));
    assert_eq!(e.account.as_deref(), Some("111122223333"));
    assert_eq!(e.mfa_authenticated, Some(false));
    assert_eq!(e.detail_type, "AWS Console Sign In via CloudTrail");
    assert_eq!(e.envelope_source().as_deref(), Some("aws.signin"));

    // Console sign-in with MFAUsed "Yes".
    let e = find(&events, "fed06f42-cb12-4764-8c69-121063dc79b9", None);
    assert_eq!(e.mfa_authenticated, Some(true));

    // Service event without userIdentity.type, source IP "AWS Internal".
    let e = find(&events, "234f004b-EXAMPLE", Some("RotateKey"));
    assert_eq!(e.principal.kind, None);
    assert_eq!(e.principal.account_id.as_deref(), Some("123456789012"));
    assert_eq!(e.source_ip.as_deref(), Some("AWS Internal"));
    assert_eq!(e.read_only, Some(false));
    assert_eq!(e.detail_type, "AWS Service Event via CloudTrail");
    assert_eq!(e.envelope_source().as_deref(), Some("aws.kms"));

    // LookupEvents: the record parsed out of the CloudTrailEvent string.
    let e = find(&events, "0828c0d2-3589-4390-b954-c78b4a7df44b", None);
    assert_eq!(e.name.as_deref(), Some("DescribeInstances"));
    assert_eq!(e.principal.kind.as_deref(), Some("IAMUser"));
    assert_eq!(e.principal.user_name.as_deref(), Some("fakeusername"));
    assert_eq!(e.account.as_deref(), Some("012345678901"));
    assert_eq!(e.record["eventVersion"], json!("1.08"));

    // EventBridge: detail-type from the envelope.
    let e = find(&events, "c6b72da7-5dc5-43bd-a890-d8a88cb41e15", None);
    assert_eq!(e.name.as_deref(), Some("CreateImage"));
    assert_eq!(e.account.as_deref(), Some("444444444444"));
    assert_eq!(e.mfa_authenticated, Some(true));
    assert_eq!(e.detail_type, "AWS API Call via CloudTrail");
    let env = e.envelope();
    assert_eq!(env["source"], json!("aws.ec2"));
    assert_eq!(env["detail"]["eventName"], json!("CreateImage"));
}

#[test]
fn records_missing_event_id_get_stable_synthetic_ids() {
    let events = all_events();
    let synthetic: Vec<_> = events
        .iter()
        .filter(|e| e.id.starts_with("synthetic-"))
        .collect();
    // Five awsdocs examples without eventID, one with nothing but
    // userIdentity, and two EventBridge fixtures spelling it "eventId".
    assert_eq!(
        synthetic.len(),
        8,
        "{:?}",
        synthetic.iter().map(|e| &e.name).collect::<Vec<_>>()
    );
    for e in &synthetic {
        assert_eq!(e.id.len(), "synthetic-".len() + 32);
        assert!(e.id["synthetic-".len()..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit()));
    }
    // Same ids on a second run.
    let again = all_events();
    let ids = |evs: &[NormalizedEvent]| evs.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&events), ids(&again));
}

#[test]
fn all_records_as_json_lines() {
    let records = corpus_records();
    let mut text = String::new();
    for r in &records {
        text.push_str(&serde_json::to_string(&r.record).expect("serialise"));
        text.push('\n');
    }
    let items = normalize_bytes(text.as_bytes(), &opts());
    assert_eq!(items.len(), 218);
    assert_eq!(tally(&items), (218, 0, 0));
    // Same again gzip-compressed.
    let items = normalize_bytes(&gzip(text.as_bytes()), &opts());
    assert_eq!(tally(&items), (218, 0, 0));
}

#[test]
fn bare_records_as_gzip_log_file() {
    let bare: Vec<Value> = corpus_records()
        .into_iter()
        .filter(|r| r.form == "record" || r.form == "insight")
        .map(|r| r.record)
        .collect();
    assert_eq!(bare.len(), 94);
    let file = serde_json::to_vec(&json!({ "Records": bare })).expect("serialise");
    let items = normalize_bytes(&gzip(&file), &opts());
    assert_eq!(items.len(), 94);
    assert_eq!(tally(&items), (94, 0, 0));
}

/// The record text handed to plugins is the record written as compact JSON, in every form
/// the corpus has, whether the normaliser kept the text its size check wrote (bare records,
/// in a list or a log file) or writes it when asked (envelopes, LookupEvents, logstash).
#[test]
fn every_events_record_text_is_its_record_as_compact_json() {
    let all: Vec<Value> = corpus_records().into_iter().map(|r| r.record).collect();
    let as_list = normalize_value(Value::Array(all.clone()), &opts());
    let as_log_file = normalize_bytes(
        &gzip(&serde_json::to_vec(&json!({ "Records": all })).expect("serialise")),
        &opts(),
    );
    let (mut kept, mut written) = (0, 0);
    for item in as_list.iter().chain(&as_log_file) {
        let Item::Event(event) = item else { continue };
        let compact = serde_json::to_string(&event.record).expect("serialise");
        assert_eq!(event.raw_json(), compact, "{}", event.id);
        assert_eq!(event.clone().take_raw_json(), compact, "{}", event.id);
        match event.record_text.0 {
            Some(_) => kept += 1,
            None => written += 1,
        }
    }
    // Bare records (and Insights) keep their text; the other forms unwrap the record first.
    assert_eq!((kept, written), (2 * 94, 2 * (218 - 94)));
}

#[test]
fn the_whole_corpus_as_one_list() {
    let all: Vec<Value> = corpus_records().into_iter().map(|r| r.record).collect();
    let items = normalize_value(Value::Array(all), &opts());
    assert_eq!(tally(&items), (218, 0, 0));
}

#[test]
fn real_log_file() {
    let dir = corpus_path("records/logfiles");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".json.gz"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no *.json.gz in {}", dir.display());
    for path in files {
        let bytes = std::fs::read(&path).expect("read log file");
        // The expected count, read independently of the crate.
        let mut text = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut text)
            .expect("decompress");
        let file: Value = serde_json::from_slice(&text).expect("log file is JSON");
        let expected = file["Records"].as_array().expect("Records array").len();
        assert!(expected > 0);

        let items = normalize_bytes(&bytes, &opts());
        assert_eq!(items.len(), expected, "{}", path.display());
        assert_eq!(tally(&items), (expected, 0, 0), "{}", path.display());
        for (item, record) in items
            .iter()
            .zip(file["Records"].as_array().into_iter().flatten())
        {
            let e = item.as_event().expect("event");
            assert_eq!(&e.record, record);
            assert_eq!(e.id, record["eventID"].as_str().expect("eventID"));
            assert_eq!(e.region.as_deref(), Some("eu-central-1"));
        }
    }
}

/// The borrowed view the router matches on is the envelope, field for field.
#[test]
fn envelope_fields_are_the_envelope() {
    for event in all_events() {
        let from_fields = event.with_envelope_fields(|fields| {
            let map: serde_json::Map<String, serde_json::Value> = fields
                .iter()
                .map(|(k, v)| (k.to_string(), (*v).clone()))
                .collect();
            assert_eq!(map.len(), fields.len(), "keys are distinct");
            serde_json::Value::Object(map)
        });
        assert_eq!(from_fields, event.envelope(), "event {}", event.id);
    }
}
