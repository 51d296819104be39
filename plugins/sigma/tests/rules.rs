//! The shipped rule set (`rules/sigma/cloudtrail/*.yml`, SigmaHQ's 57 CloudTrail rules):
//! every rule loads or is refused with a reason; for every loaded rule an event built from
//! its own detection fires it, also with the case of its values swapped, and near misses
//! (one selected field changed, or one filter satisfied) do not; a few real record shapes;
//! the `eventSource` pre-check changes no result.
#![cfg(not(target_arch = "wasm32"))]

use std::collections::BTreeSet;

use sigma::condition::{self, Expr};
use sigma::RuleSet;
use trailwarden_plugin_sdk::serde_json::{self, json, Map, Value};
use trailwarden_plugin_sdk::{testing, Event};

const RULES_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../rules/sigma/cloudtrail");

fn rule_files() -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(RULES_DIR)
        .expect("rules/sigma/cloudtrail")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("rule file");
            (p.file_name().unwrap().to_string_lossy().into_owned(), text)
        })
        .collect();
    files.sort();
    files
}

fn from_files(files: &[(String, String)]) -> RuleSet {
    RuleSet::from_texts(files.iter().map(|(p, t)| (p.as_str(), t.as_str())))
}

#[test]
fn every_shipped_rule_loads_or_is_refused_with_a_reason() {
    let files = rule_files();
    assert_eq!(files.len(), 57);
    let set = from_files(&files);
    assert_eq!(set.entries.len(), 57, "one rule per file");
    let loaded = set.loaded().count();
    let refused: Vec<_> = set.refused().collect();
    for (entry, reason) in &refused {
        println!(
            "refused {} ({}): {reason}",
            entry.rule_id, entry.rule.meta.source
        );
        assert!(!reason.trim().is_empty());
    }
    println!("{loaded} loaded, {} refused", refused.len());
    assert_eq!(loaded + refused.len(), 57);
    assert_eq!(loaded, 57, "every shipped rule is supported");
    let with_source = set.loaded().filter(|(_, d)| d.sources.is_some()).count();
    println!("{with_source} rules name their eventSource (pre-checked)");
}

#[test]
fn the_shipped_files_are_sigmahq_s_unchanged() {
    let corpus = testing::corpus_dir().join("sigma/rules/cloud/aws/cloudtrail");
    if !corpus.is_dir() {
        println!("no corpus at {}: not compared", corpus.display());
        return;
    }
    for (name, text) in rule_files() {
        let original = std::fs::read_to_string(corpus.join(&name)).expect("in the corpus");
        assert_eq!(text, original, "{name} differs from the corpus copy");
    }
}

#[test]
fn the_embedded_set_is_the_shipped_files() {
    let embedded = RuleSet::embedded();
    let files = from_files(&rule_files());
    assert_eq!(embedded.catalog(), files.catalog());
    let ids = |s: &RuleSet| {
        s.entries
            .iter()
            .map(|e| e.rule_id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&embedded), ids(&files));
}

/// The search identifiers of a detection, in the order the plugin compiles them.
fn search_names(detection: &Map<String, Value>) -> Vec<String> {
    detection
        .keys()
        .filter(|k| *k != "condition" && *k != "timeframe")
        .cloned()
        .collect()
}

/// Which searches must be true (`pos`) and false (`neg`) for `e` to be `want`: the first
/// operand of an `or` to be true, every operand of an `and`.
fn plan(e: &Expr, want: bool, pos: &mut Vec<usize>, neg: &mut Vec<usize>) {
    match e {
        Expr::Search(i) => {
            if want {
                pos.push(*i)
            } else {
                neg.push(*i)
            }
        }
        Expr::Not(x) => plan(x, !want, pos, neg),
        Expr::And(xs) if want => xs.iter().for_each(|x| plan(x, true, pos, neg)),
        Expr::Or(xs) if !want => xs.iter().for_each(|x| plan(x, false, pos, neg)),
        Expr::And(xs) | Expr::Or(xs) => plan(&xs[0], want, pos, neg),
    }
}

/// The maps of a search (a map, or a list of maps).
fn maps(search: &Value) -> Vec<&Map<String, Value>> {
    match search {
        Value::Object(m) => vec![m],
        Value::Array(items) => items.iter().filter_map(Value::as_object).collect(),
        _ => Vec::new(),
    }
}

fn set_path(record: &mut Value, path: &str, value: Value) {
    let mut cur = record;
    let parts: Vec<&str> = path.split('.').collect();
    for part in &parts[..parts.len() - 1] {
        if !cur.get(*part).is_some_and(Value::is_object) {
            cur[*part] = json!({});
        }
        cur = &mut cur[*part];
    }
    cur[parts[parts.len() - 1]] = value;
}

/// A Sigma value with its wildcards taken out (`*` nothing, `?` one letter).
fn unwild(v: &str) -> String {
    let mut out = String::new();
    let mut chars = v.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if matches!(chars.peek(), Some('*' | '?' | '\\')) => {
                out.push(chars.next().unwrap())
            }
            '*' => {}
            '?' => out.push('x'),
            c => out.push(c),
        }
    }
    out
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Strings that match the rules' `re` values.
fn regex_example(pattern: &str) -> &'static str {
    match pattern {
        ".+:assumed-role/aws:.+" => {
            "arn:aws:sts::123456789012:assumed-role/aws:ec2-instance/i-0abcdef1234567890"
        }
        other => panic!("no example for the regular expression `{other}`: add one"),
    }
}

fn swap_case(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_uppercase() {
                c.to_lowercase().next().unwrap()
            } else {
                c.to_uppercase().next().unwrap()
            }
        })
        .collect()
}

/// Sets the fields of one map of a search so that it holds; `case` transforms the strings
/// of plain (not `re`) values.
fn satisfy(record: &mut Value, map: &Map<String, Value>, case: &dyn Fn(&str) -> String) {
    for (key, values) in map {
        let mut parts = key.split('|');
        let field = parts.next().unwrap();
        let mods: Vec<&str> = parts.collect();
        let list: Vec<&Value> = match values {
            Value::Array(items) => items.iter().collect(),
            v => vec![v],
        };
        let Some(first) = list[0]
            .as_str()
            .map(str::to_owned)
            .or_else(|| text(list[0]))
        else {
            continue; // null: the field stays absent
        };
        let value = if mods.contains(&"fieldref") {
            set_path(record, &first, json!("shared-value"));
            "shared-value".to_owned()
        } else if mods.contains(&"re") {
            regex_example(&first).to_owned()
        } else if mods.contains(&"all") {
            let all: Vec<String> = list
                .iter()
                .filter_map(|v| text(v))
                .map(|v| unwild(&v))
                .collect();
            case(&format!("pre {} post", all.join(" ")))
        } else if mods.contains(&"contains") {
            case(&format!("pre {} post", unwild(&first)))
        } else if mods.contains(&"startswith") {
            case(&format!("{}Tail", unwild(&first)))
        } else if mods.contains(&"endswith") {
            case(&format!("Head{}", unwild(&first)))
        } else {
            case(&unwild(&first))
        };
        set_path(record, field, json!(value));
    }
}

fn skeleton(id: &str) -> Value {
    json!({
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE", "accountId": "111122223333",
            "arn": "arn:aws:iam::111122223333:user/alice", "userName": "alice"},
        "eventTime": "2024-05-01T12:00:00Z",
        "eventSource": "example.amazonaws.com",
        "eventName": "Example",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.20",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": null,
        "responseElements": null,
        "eventID": id,
        "eventType": "AwsApiCall",
        "recipientAccountId": "111122223333"
    })
}

fn fires(set: &RuleSet, rule_id: &str, record: &Value) -> bool {
    let event = testing::event_from_record(record);
    let findings = set.detect(&event);
    let exhaustive = set.detect_record_exhaustive(&event, record);
    // Whole findings: detect parses only the fields the candidate rules read, and a
    // finding's resources and matched searches must still come out as from the full record.
    assert_eq!(
        findings, exhaustive,
        "the pre-checks or the partial parse changed the result on {record}"
    );
    findings.iter().any(|f| f.rule_id == rule_id)
}

/// The events built from each rule's detection; `(rule id, record, should fire, what)`.
fn generated() -> Vec<(String, Value, bool, String)> {
    let mut cases = Vec::new();
    for (file, yaml) in rule_files() {
        let doc = sigma::yaml::documents(&yaml).unwrap().remove(0);
        let rule_id = format!("sigma.{}", doc["id"].as_str().unwrap());
        let detection = doc["detection"].as_object().unwrap();
        let names = search_names(detection);
        let expr = condition::parse(detection["condition"].as_str().unwrap(), &names).unwrap();
        let (mut pos, mut neg) = (Vec::new(), Vec::new());
        plan(&expr, true, &mut pos, &mut neg);
        let build = |id: &str, case: &dyn Fn(&str) -> String| {
            let mut record = skeleton(id);
            for &i in &pos {
                satisfy(&mut record, maps(&detection[&names[i]])[0], case);
            }
            record
        };
        let positive = build(&format!("gen-{file}"), &|s| s.to_owned());
        cases.push((
            rule_id.clone(),
            positive.clone(),
            true,
            format!("{file}: positive"),
        ));
        cases.push((
            rule_id.clone(),
            build(&format!("gen-{file}-swapped"), &swap_case),
            true,
            format!("{file}: positive with the case of its values swapped"),
        ));
        // Near miss: one field of a required search changed.
        for &i in &pos {
            for (key, values) in maps(&detection[&names[i]])[0] {
                let field = key.split('|').next().unwrap();
                let pure_wildcard = text(values).is_some_and(|v| v.chars().all(|c| c == '*'));
                if values.is_null() || pure_wildcard || key.contains("fieldref") {
                    continue;
                }
                let mut record = positive.clone();
                record["eventID"] = json!(format!("gen-{file}-{key}-changed"));
                set_path(&mut record, field, json!("zz-near-miss-zz"));
                cases.push((
                    rule_id.clone(),
                    record,
                    false,
                    format!("{file}: {key} changed"),
                ));
            }
        }
        // Near miss: one exclusion satisfied.
        for &i in &neg {
            for (n, map) in maps(&detection[&names[i]]).into_iter().enumerate() {
                let mut record = positive.clone();
                record["eventID"] = json!(format!("gen-{file}-{}-{n}", names[i]));
                satisfy(&mut record, map, &|s| s.to_owned());
                cases.push((
                    rule_id.clone(),
                    record,
                    false,
                    format!("{file}: `{}` (item {n}) satisfied", names[i]),
                ));
            }
        }
    }
    cases
}

#[test]
fn events_built_from_each_rule_fire_it_and_near_misses_do_not() {
    let set = RuleSet::embedded();
    let cases = generated();
    let mut failures = Vec::new();
    let mut rules_with_near_miss = BTreeSet::new();
    let (mut positives, mut near_misses) = (0, 0);
    for (rule_id, record, want, what) in &cases {
        if fires(&set, rule_id, record) != *want {
            failures.push(format!(
                "{what}: expected {}: {record}",
                if *want { "a finding" } else { "none" }
            ));
        }
        if *want {
            positives += 1;
        } else {
            near_misses += 1;
            rules_with_near_miss.insert(rule_id.clone());
        }
    }
    println!(
        "{positives} positives (2 per rule), {near_misses} near misses over {} rules",
        rules_with_near_miss.len()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(positives, 2 * 57);
    assert_eq!(rules_with_near_miss.len(), 57, "every rule has a near miss");
}

#[test]
fn the_precheck_changes_nothing_on_the_corpus() {
    let set = RuleSet::embedded();
    let mut n = 0;
    for event in testing::corpus_events() {
        let Some(record) = event.raw_json() else {
            continue;
        };
        let ids = |f: Vec<trailwarden_plugin_sdk::Finding>| {
            f.into_iter().map(|f| f.rule_id).collect::<Vec<_>>()
        };
        assert_eq!(
            ids(set.detect_record(&event, &record)),
            ids(set.detect_record_exhaustive(&event, &record)),
            "event {}",
            event.id
        );
        // Ruling an event out on its parsed fields, before parsing the record, and parsing
        // only the fields its candidate rules read: the same findings, whole.
        assert_eq!(
            set.detect(&event),
            set.detect_record_exhaustive(&event, &record),
            "hot pre-check or partial parse on event {}",
            event.id
        );
        n += 1;
    }
    assert!(n > 600);
}

/// The shipped rules are compiled on first use, from what `build.rs` worked out by compiling
/// them: the same rules load, with the same event sources and names, fields read, catalog and
/// patterns as the YAML files compiled at once; a fresh set per event (a one-event batch)
/// gives the same findings as the files, having compiled only the rules its event's source
/// and name can match.
#[test]
fn the_shipped_rules_compile_on_first_use_as_build_rs_described_them() {
    let files = from_files(&rule_files());
    let embedded = RuleSet::embedded();
    assert!(embedded.entries.iter().all(|e| !e.rule.is_compiled()));
    assert_eq!(embedded.patterns(), files.patterns());
    for (lazy, now) in embedded.entries.iter().zip(&files.entries) {
        assert_eq!(lazy.rule.loads(), now.rule.loads(), "{}", lazy.rule_id);
        assert_eq!(lazy.rule.sources(), now.rule.sources(), "{}", lazy.rule_id);
        assert_eq!(
            lazy.rule.event_names(),
            now.rule.event_names(),
            "{}",
            lazy.rule_id
        );
        let keys = |rule: &sigma::rule::Loaded| {
            let mut keys = BTreeSet::new();
            rule.record_keys(&mut keys);
            keys
        };
        assert_eq!(keys(&lazy.rule), keys(&now.rule), "{}", lazy.rule_id);
        // Compiled now, it says what build.rs said.
        assert_eq!(lazy.rule.loads(), lazy.rule.detection().is_ok());
        assert_eq!(
            lazy.rule
                .detection()
                .as_ref()
                .ok()
                .map(|d| (&d.sources, &d.event_names)),
            now.rule
                .detection()
                .as_ref()
                .ok()
                .map(|d| (&d.sources, &d.event_names)),
        );
    }
    let mut compiled = Vec::new();
    for event in testing::corpus_events() {
        let fresh = RuleSet::embedded();
        assert_eq!(
            fresh.detect(&event),
            files.detect(&event),
            "event {}",
            event.id
        );
        compiled.push(
            fresh
                .entries
                .iter()
                .filter(|e| e.rule.is_compiled())
                .count(),
        );
    }
    let most = compiled.iter().max().copied().unwrap_or_default();
    let mean = compiled.iter().sum::<usize>() as f64 / compiled.len() as f64;
    assert!(
        most < 12 && mean < 7.0,
        "compiled per event: most {most}, mean {mean:.1}"
    );
}

/// The parsed-field pre-check rules events out before their record is parsed: without it
/// every event is. (The corpus is mostly attacks, so most of it still needs the record;
/// ordinary traffic, mostly reads, is ruled out far more often.)
#[test]
fn the_hot_precheck_rules_out_events_before_parsing() {
    let set = RuleSet::embedded();
    let events = testing::corpus_events();
    let kept = events.iter().filter(|e| set.may_match(e)).count();
    assert!(
        kept * 4 < events.len() * 3,
        "{kept} of {} events still need their record parsed",
        events.len()
    );
}

fn panther_event(rule: &str, test: &str) -> Value {
    let path = testing::corpus_dir().join("panther/panther_cloudtrail_tests.jsonl");
    let text = std::fs::read_to_string(path).expect("Panther tests");
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|t| t["rule_id"] == rule && t["test_name"] == test)
        .unwrap_or_else(|| panic!("no Panther test {rule}/{test}"))["event"]
        .clone()
}

fn ids(set: &RuleSet, record: &Value) -> Vec<String> {
    let event: Event = testing::event_from_record(record);
    set.detect(&event).into_iter().map(|f| f.rule_id).collect()
}

const TRUFFLEHOG_UA: &str = "sigma.a840e606-7c8c-4684-9bc1-eb6b6155127f";
const TRUFFLEHOG_GCI: &str = "sigma.9b1b8e9b-0a5d-4af1-9d2f-4c4b6e7c2c9d";
const BACKDOOR_KEYS: &str = "sigma.0a5177f4-6ca9-44c2-aacf-d3f3d8b6e4d2";
const LOGIN_PROFILE: &str = "sigma.055fb148-60f8-462d-ad16-26926ce050f1";
const BUCKET_DELETED: &str = "sigma.39c9f26d-6e3b-4dbb-9c7a-4154b0281112";
const ECS_CREDENTIALS: &str = "sigma.b94bf91e-c2bf-4047-9c43-c6810f43baad";
const LAMBDA_LAYER: &str = "sigma.97fbabf8-8e1b-47a2-b7d5-a418d2b95e3d";
const GET_SIGNIN_TOKEN: &str = "sigma.f8103686-e3e8-46f3-be72-65f7fcb4aa53";
const S3BROWSER_POLICY: &str = "sigma.db014773-7375-4f4e-b83b-133337c0ffee";

#[test]
fn real_record_shapes() {
    let set = RuleSet::embedded();
    // `userAgent: 'TruffleHog'` is equality (case-insensitive), `|contains` finds variants.
    let plain = panther_event(
        "AWS.STS.GetCallerIdentity.TruffleHog",
        "TruffleHog GetCallerIdentity",
    );
    assert!(ids(&set, &plain).contains(&TRUFFLEHOG_UA.to_owned()));
    assert!(ids(&set, &plain).contains(&TRUFFLEHOG_GCI.to_owned()));
    let variant = panther_event(
        "AWS.STS.GetCallerIdentity.TruffleHog",
        "TruffleHog User Agent Variant",
    );
    assert_eq!(variant["userAgent"], "trufflehog/3.63.0");
    assert!(!ids(&set, &variant).contains(&TRUFFLEHOG_UA.to_owned()));
    assert!(ids(&set, &variant).contains(&TRUFFLEHOG_GCI.to_owned()));
    let normal = panther_event(
        "AWS.STS.GetCallerIdentity.TruffleHog",
        "Normal GetCallerIdentity",
    );
    assert!(ids(&set, &normal).is_empty());

    // The backdoor rule's filter was meant as a field reference but is written as a plain
    // `contains` of the text "responseElements.accessKey.userName": as Sigma says, it is
    // that text, so the rule fires on every CreateAccessKey, own keys included.
    for test in ["user1 create keys for user1", "user1 create keys for user2"] {
        let e = panther_event("AWS.IAM.Backdoor.User.Keys", test);
        assert!(ids(&set, &e).contains(&BACKDOOR_KEYS.to_owned()), "{test}");
    }

    // `fieldref`: an ARN never equals a user name, so every UpdateLoginProfile fires too.
    let own = panther_event("AWS.User.Login.Profile.Modified", "ChangeOwnPassword");
    let other = panther_event(
        "AWS.User.Login.Profile.Modified",
        "User changed password for other",
    );
    assert!(ids(&set, &other).contains(&LOGIN_PROFILE.to_owned()));
    assert_eq!(own["eventName"], "UpdateLoginProfile");
    assert!(ids(&set, &own).contains(&LOGIN_PROFILE.to_owned()));
    let mut equal = other.clone();
    equal["requestParameters"]["userName"] = other["userIdentity"]["arn"].clone();
    assert!(
        !ids(&set, &equal).contains(&LOGIN_PROFILE.to_owned()),
        "fieldref equal"
    );

    // `errorCode: null` matches an absent (or null) errorCode, as CloudTrail records a
    // success; an error is neither null nor `Success`. Panther's event writes `""`, which is
    // a value, not null: no match, as in a SIEM.
    let mut deleted = panther_event("AWS.S3.BucketDeleted", "An S3 Bucket was deleted");
    assert_eq!(deleted["errorCode"], "");
    assert!(!ids(&set, &deleted).contains(&BUCKET_DELETED.to_owned()));
    deleted.as_object_mut().unwrap().remove("errorCode");
    assert!(ids(&set, &deleted).contains(&BUCKET_DELETED.to_owned()));
    deleted["errorCode"] = Value::Null;
    assert!(ids(&set, &deleted).contains(&BUCKET_DELETED.to_owned()));
    let failed = panther_event("AWS.S3.BucketDeleted", "S3 Bucket Deletion Failed");
    assert!(!ids(&set, &failed).contains(&BUCKET_DELETED.to_owned()));

    // Dotted paths through arrays: containerDefinitions[].command[].
    let mut task = skeleton("ecs-1");
    task["eventSource"] = json!("ecs.amazonaws.com");
    task["eventName"] = json!("RegisterTaskDefinition");
    task["requestParameters"] = json!({"family": "web", "containerDefinitions": [
        {"name": "app", "image": "nginx", "command": ["nginx", "-g", "daemon off;"]},
        {"name": "sidecar", "image": "curlimages/curl",
         "command": ["sh", "-c", "curl 169.254.170.2$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]}]});
    assert_eq!(ids(&set, &task), vec![ECS_CREDENTIALS]);
    task["requestParameters"]["containerDefinitions"][1]["command"] = json!(["sh", "-c", "true"]);
    assert!(ids(&set, &task).is_empty());

    // `layers|contains: '*'`: any layer; none given, no match.
    let mut layer = skeleton("lambda-1");
    layer["eventSource"] = json!("lambda.amazonaws.com");
    layer["eventName"] = json!("UpdateFunctionConfiguration20150331v2");
    layer["requestParameters"] =
        json!({"functionName": "f", "layers": ["arn:aws:lambda:us-east-1:111122223333:layer:x:3"]});
    assert_eq!(ids(&set, &layer), vec![LAMBDA_LAYER]);
    layer["requestParameters"] = json!({"functionName": "f", "timeout": 30});
    assert!(ids(&set, &layer).is_empty());

    // A filter on the user agent: the console's own `Jersey/${project.version}` is excluded.
    let mut token = skeleton("signin-1");
    token["eventSource"] = json!("signin.amazonaws.com");
    token["eventName"] = json!("GetSigninToken");
    assert_eq!(ids(&set, &token), vec![GET_SIGNIN_TOKEN]);
    token["userAgent"] = json!("Jersey/${project.version}");
    assert!(ids(&set, &token).is_empty());

    // `requestParameters|contains|all` over an inline policy (a JSON string inside
    // requestParameters): every value must be found, `*` in a value is a wildcard.
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::<YOUR-BUCKET-NAME>/*"}]}"#;
    let mut put = skeleton("s3browser-1");
    put["eventSource"] = json!("iam.amazonaws.com");
    put["eventName"] = json!("PutUserPolicy");
    put["userAgent"] = json!("S3 Browser 9.5.5 https://s3browser.com");
    put["requestParameters"] =
        json!({"userName": "alice", "policyName": "p", "policyDocument": policy});
    assert_eq!(ids(&set, &put), vec![S3BROWSER_POLICY]);
    put["requestParameters"]["policyDocument"] =
        json!(policy.replace("s3:GetObject", "s3:PutObject"));
    assert!(
        ids(&set, &put).is_empty(),
        "one of the `all` values missing"
    );
}

/// The subscription of the shipped rules: per rule, what its condition requires of the
/// event source and name (or, for the four rules that name neither, of the caller's type,
/// ARN or user agent), so the plugin no longer receives every CloudTrail event.
#[test]
fn the_shipped_rules_subscribe_to_what_they_can_match_only() {
    let set = RuleSet::embedded();
    let patterns = set.patterns();
    assert!(
        !patterns.contains(&sigma::PATTERN.to_owned()),
        "every shipped rule requires something of the subscription fields"
    );
    assert!(patterns.len() >= 50, "{patterns:#?}");
    let root = r#"{"detail":{"userIdentity":{"type":[{"equals-ignore-case":"root"}]}},"detail-type":[{"suffix":"via CloudTrail"}]}"#;
    assert!(patterns.contains(&root.to_owned()), "{patterns:#?}");
    let imds = r#"{"detail":{"userIdentity":{"arn":[{"wildcard":"*:assumed-role/aws:*"}]}},"detail-type":[{"suffix":"via CloudTrail"}]}"#;
    assert!(patterns.contains(&imds.to_owned()), "{patterns:#?}");
    for p in &patterns {
        let v: Value = serde_json::from_str(p).expect("JSON");
        assert!(
            v["detail"].as_object().is_some_and(|d| !d.is_empty()),
            "{p}"
        );
    }
}

/// A rule that requires nothing of the subscription fields subscribes the plugin to every
/// CloudTrail event; a `not` requires nothing; no loaded rule, no pattern.
#[test]
fn a_rule_without_a_required_field_subscribes_to_everything() {
    let only = |detection: &str| {
        RuleSet::from_texts([(
            "r.yml",
            &*format!(
                "title: t\nid: 11111111-2222-3333-4444-555555555555\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n{detection}\nlevel: low\n"
            ),
        )])
    };
    let narrow = only("  sel:\n    eventName|startswith: Delete\n    eventSource: s3.amazonaws.com\n  condition: sel");
    assert_eq!(narrow.loaded().count(), 1);
    assert_eq!(
        narrow.patterns(),
        [
            r#"{"detail":{"eventName":[{"prefix":{"equals-ignore-case":"delete"}}],"eventSource":[{"equals-ignore-case":"s3.amazonaws.com"}]},"detail-type":[{"suffix":"via CloudTrail"}]}"#
        ]
    );
    let negated = only("  sel:\n    eventName: DeleteBucket\n  condition: not sel");
    assert_eq!(negated.patterns(), [sigma::PATTERN]);
    let contains = only("  sel:\n    eventName|contains: Delete\n  condition: sel");
    assert_eq!(
        contains.patterns(),
        [sigma::PATTERN],
        "no case-insensitive substring in EventBridge"
    );
    assert!(RuleSet::from_texts([]).patterns().is_empty());
}
