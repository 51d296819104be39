//! Sigma semantics on small rules of our own: case-insensitivity, `re`, `null`, `all`,
//! wildcards, value and map lists, `1 of`/`all of`/`not`, the other modifiers; refused
//! rules; the `rules` config.
#![cfg(not(target_arch = "wasm32"))]

use sigma::{RuleSet, Sigma};
use trailwarden_plugin_sdk::serde_json::{json, Value};
use trailwarden_plugin_sdk::{
    testing, Config, MemoryState, PluginError, RecordingCapabilities, Responder, Severity,
};

/// A whole rule around a `detection` block (its lines indented by four spaces).
fn rule(id: &str, detection: &str) -> String {
    format!(
        "title: Test {id}\nid: {id}\nstatus: test\ndescription: A test rule.\nauthor: Tester\n\
         tags:\n    - attack.persistence\n    - attack.t1078.004\nlevel: high\n\
         logsource:\n    product: aws\n    service: cloudtrail\ndetection:\n{detection}\n"
    )
}

fn one(detection: &str) -> RuleSet {
    let text = rule("r1", detection);
    let set = RuleSet::from_texts([("r1.yml", text.as_str())]);
    if let Some((_, reason)) = set.refused().next() {
        panic!("refused: {reason}\n{text}");
    }
    set
}

fn record(extra: Value) -> Value {
    let mut r = json!({
        "eventVersion": "1.08", "eventTime": "2024-05-01T12:00:00Z",
        "eventSource": "iam.amazonaws.com", "eventName": "CreateUser", "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.20", "userAgent": "aws-cli/2.15.0 Python/3.11 Linux/5.10",
        "userIdentity": {"type": "IAMUser", "userName": "alice", "accountId": "111122223333",
            "arn": "arn:aws:iam::111122223333:user/alice"},
        "requestParameters": {"userName": "bob"}, "responseElements": null,
        "eventID": "e1", "eventType": "AwsApiCall", "recipientAccountId": "111122223333"
    });
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() && k.starts_with('-') {
            r.as_object_mut().unwrap().remove(&k[1..]);
        } else {
            r[k] = v.clone();
        }
    }
    r
}

fn fires(set: &RuleSet, extra: Value) -> bool {
    let r = record(extra);
    let event = testing::event_from_record(&r);
    !set.detect(&event).is_empty()
}

#[test]
fn plain_values_are_case_insensitive_re_and_cased_are_not() {
    let plain = one("    sel:\n        eventName: 'createuser'\n    condition: sel");
    assert!(fires(&plain, json!({})));
    assert!(fires(&plain, json!({"eventName": "CREATEUSER"})));
    assert!(!fires(&plain, json!({"eventName": "CreateUsers"})));
    let contains = one("    sel:\n        userAgent|contains: 'PYTHON/'\n    condition: sel");
    assert!(fires(&contains, json!({})));
    let re = one("    sel:\n        eventName|re: '^Create[A-Z]'\n    condition: sel");
    assert!(fires(&re, json!({})));
    assert!(!fires(&re, json!({"eventName": "createuser"})));
    assert!(
        !fires(&re, json!({"eventName": "XCreateUser"})),
        "anchored by the regex only"
    );
    let re_i = one("    sel:\n        eventName|re|i: '^create[a-z]'\n    condition: sel");
    assert!(fires(&re_i, json!({})));
    let unanchored = one("    sel:\n        userAgent|re: 'Linux/\\d+'\n    condition: sel");
    assert!(
        fires(&unanchored, json!({})),
        "re searches, it does not need the whole text"
    );
    let cased = one("    sel:\n        eventName|cased: 'CreateUser'\n    condition: sel");
    assert!(fires(&cased, json!({})));
    assert!(!fires(&cased, json!({"eventName": "createuser"})));
    let non_ascii =
        one("    sel:\n        requestParameters.userName: 'ÉMILE'\n    condition: sel");
    assert!(fires(
        &non_ascii,
        json!({"requestParameters": {"userName": "émile"}})
    ));
}

#[test]
fn null_is_absent_or_null_and_nothing_else() {
    let set = one("    sel:\n        errorCode: null\n    condition: sel");
    assert!(fires(&set, json!({})));
    assert!(fires(&set, json!({"errorCode": null})));
    assert!(!fires(&set, json!({"errorCode": ""})));
    assert!(!fires(&set, json!({"errorCode": "AccessDenied"})));
    let not_null = one("    sel:\n        errorCode: null\n    condition: not sel");
    assert!(fires(&not_null, json!({"errorCode": "AccessDenied"})));
    let either = one("    sel:\n        errorCode:\n            - null\n            - 'Success'\n    condition: sel");
    assert!(fires(&either, json!({"errorCode": "success"})));
    assert!(!fires(&either, json!({"errorCode": "Throttling"})));
}

#[test]
fn all_needs_every_value_and_lists_need_one() {
    let all = one(
        "    sel:\n        userAgent|contains|all:\n            - 'aws-cli'\n            - 'linux'\n    condition: sel",
    );
    assert!(fires(&all, json!({})));
    assert!(!fires(
        &all,
        json!({"userAgent": "aws-cli/2.15.0 Darwin/23"})
    ));
    let any = one(
        "    sel:\n        userAgent|contains:\n            - 'boto3'\n            - 'linux'\n    condition: sel",
    );
    assert!(fires(&any, json!({})));
    assert!(!fires(&any, json!({"userAgent": "console.amazonaws.com"})));
    // A list of maps: one map (all its fields) suffices.
    let maps = one(
        "    sel:\n        - eventName: DeleteUser\n        - eventName: CreateUser\n          requestParameters.userName: bob\n    condition: sel",
    );
    assert!(fires(&maps, json!({})));
    assert!(!fires(
        &maps,
        json!({"requestParameters": {"userName": "carol"}})
    ));
    assert!(fires(
        &maps,
        json!({"eventName": "DeleteUser", "requestParameters": null})
    ));
}

#[test]
fn wildcards_and_escapes() {
    let star = one("    sel:\n        eventName: 'Create*r'\n    condition: sel");
    assert!(fires(&star, json!({})));
    assert!(!fires(&star, json!({"eventName": "CreateRole"})));
    let question = one("    sel:\n        eventName: 'Cre?teUse?'\n    condition: sel");
    assert!(fires(&question, json!({})));
    assert!(!fires(&question, json!({"eventName": "CreteUser"})));
    let escaped = one("    sel:\n        requestParameters.userName: 'a\\*b'\n    condition: sel");
    assert!(fires(
        &escaped,
        json!({"requestParameters": {"userName": "a*b"}})
    ));
    assert!(!fires(
        &escaped,
        json!({"requestParameters": {"userName": "axxb"}})
    ));
    let starts = one("    sel:\n        eventName|startswith: 'create'\n    condition: sel");
    assert!(fires(&starts, json!({})));
    assert!(!fires(&starts, json!({"eventName": "RecreateUser"})));
    let ends = one("    sel:\n        eventName|endswith: 'USER'\n    condition: sel");
    assert!(fires(&ends, json!({})));
    assert!(!fires(&ends, json!({"eventName": "CreateUserX"})));
}

#[test]
fn quantifiers_not_and_parentheses() {
    let detection = |cond: &str| {
        format!(
            "    sel_a:\n        eventName: CreateUser\n    sel_b:\n        userIdentity.type: IAMUser\n\
             \x20   filter_x:\n        requestParameters.userName: admin\n    filter_y:\n        sourceIPAddress: '10.*'\n\
             \x20   condition: {cond}"
        )
    };
    let check = |cond: &str, extra: Value, want: bool| {
        let set = one(&detection(cond));
        assert_eq!(fires(&set, extra.clone()), want, "{cond} on {extra}");
    };
    check("1 of sel_*", json!({"eventName": "X"}), true);
    check("all of sel_*", json!({"eventName": "X"}), false);
    check("all of sel_*", json!({}), true);
    check(
        "1 of them",
        json!({"eventName": "X", "userIdentity": {"type": "Root"}}),
        false,
    );
    check(
        "1 of them",
        json!({"eventName": "X", "sourceIPAddress": "10.1.1.1", "userIdentity": {"type": "Root"}}),
        true,
    );
    check(
        "all of them",
        json!({"requestParameters": {"userName": "admin"}, "sourceIPAddress": "10.0.0.1"}),
        true,
    );
    check(
        "all of them",
        json!({"requestParameters": {"userName": "admin"}}),
        false,
    );
    check("all of sel_* and not 1 of filter_*", json!({}), true);
    check(
        "all of sel_* and not 1 of filter_*",
        json!({"sourceIPAddress": "10.0.0.1"}),
        false,
    );
    check(
        "sel_a and not (filter_x or filter_y)",
        json!({"requestParameters": {"userName": "admin"}}),
        false,
    );
    check(
        "not sel_a or sel_b",
        json!({"eventName": "X", "userIdentity": {"type": "Root"}}),
        true,
    );
    check(
        "not (sel_a or sel_b)",
        json!({"eventName": "X", "userIdentity": {"type": "Root"}}),
        true,
    );
    check("not sel_a and not sel_b", json!({}), false);
    check(
        "sel_a and (sel_b or filter_x) and not filter_y",
        json!({}),
        true,
    );
    check("1 of sel_a", json!({}), true);
    check("ALL OF sel_* AND NOT filter_x", json!({}), true);
    // Several conditions (a list): the rule matches when one does.
    let listed = one(
        "    sel_a:\n        eventName: CreateUser\n    sel_b:\n        eventName: DeleteUser\n    condition:\n        - sel_a\n        - sel_b",
    );
    assert!(fires(&listed, json!({"eventName": "DeleteUser"})));
    assert!(!fires(&listed, json!({"eventName": "GetUser"})));
}

#[test]
fn numbers_booleans_cidr_exists_fieldref() {
    let boolean = one("    sel:\n        requestParameters.enable: false\n    condition: sel");
    assert!(fires(
        &boolean,
        json!({"requestParameters": {"enable": false}})
    ));
    assert!(fires(
        &boolean,
        json!({"requestParameters": {"enable": "False"}})
    ));
    assert!(!fires(
        &boolean,
        json!({"requestParameters": {"enable": true}})
    ));
    let number = one("    sel:\n        requestParameters.port: 22\n    condition: sel");
    assert!(fires(&number, json!({"requestParameters": {"port": 22}})));
    assert!(fires(&number, json!({"requestParameters": {"port": "22"}})));
    let gte = one("    sel:\n        requestParameters.maxResults|gte: 100\n    condition: sel");
    assert!(fires(
        &gte,
        json!({"requestParameters": {"maxResults": 1000}})
    ));
    assert!(!fires(
        &gte,
        json!({"requestParameters": {"maxResults": 99}})
    ));
    assert!(!fires(
        &gte,
        json!({"requestParameters": {"maxResults": "many"}})
    ));
    let cidr = one("    sel:\n        sourceIPAddress|cidr:\n            - '10.0.0.0/8'\n            - '2001:db8::/32'\n    condition: sel");
    assert!(fires(&cidr, json!({"sourceIPAddress": "10.20.30.40"})));
    assert!(fires(&cidr, json!({"sourceIPAddress": "2001:db8::5"})));
    assert!(!fires(&cidr, json!({})));
    assert!(!fires(&cidr, json!({"sourceIPAddress": "AWS Internal"})));
    let exists = one("    sel:\n        errorCode|exists: true\n    condition: sel");
    assert!(fires(&exists, json!({"errorCode": "AccessDenied"})));
    assert!(!fires(&exists, json!({})));
    let absent = one("    sel:\n        errorCode|exists: false\n    condition: sel");
    assert!(fires(&absent, json!({})));
    let fieldref = one("    sel:\n        userIdentity.userName|fieldref: requestParameters.userName\n    condition: sel");
    assert!(fires(
        &fieldref,
        json!({"requestParameters": {"userName": "ALICE"}})
    ));
    assert!(!fires(&fieldref, json!({})));
    assert!(!fires(&fieldref, json!({"requestParameters": null})));
    let dotted_key = one("    sel:\n        detail.type: x\n    condition: sel");
    assert!(fires(&dotted_key, json!({"detail.type": "x"})));
    assert!(fires(&dotted_key, json!({"detail": {"type": "X"}})));
}

#[test]
fn metadata_levels_and_techniques() {
    let set = one("    sel:\n        eventName: CreateUser\n    condition: sel");
    let catalog = set.catalog();
    assert_eq!(catalog[0].id, "sigma.r1");
    assert_eq!(catalog[0].severity, Severity::High);
    assert_eq!(catalog[0].techniques, vec!["T1078.004"]);
    let level = |l: &str| {
        let text = rule("lv", "    sel:\n        eventName: X\n    condition: sel")
            .replace("level: high\n", l);
        RuleSet::from_texts([("lv.yml", text.as_str())])
            .catalog()
            .remove(0)
    };
    assert_eq!(level("level: informational\n").severity, Severity::Info);
    assert_eq!(level("level: low\n").severity, Severity::Low);
    assert_eq!(level("level: critical\n").severity, Severity::Critical);
    assert_eq!(level("").severity, Severity::Medium);
    assert!(level("level: severe\n")
        .refused
        .unwrap()
        .contains("unknown level `severe`"));
    assert_eq!(sigma::rule::technique("attack.t1078"), Some("T1078".into()));
    assert_eq!(
        sigma::rule::technique("attack.t1562.008"),
        Some("T1562.008".into())
    );
    assert_eq!(sigma::rule::technique("attack.persistence"), None);
    assert_eq!(sigma::rule::technique("attack.g0016"), None);
    assert_eq!(sigma::rule::technique("attack.t15"), None);
    assert_eq!(sigma::rule::technique("cve.2021-44228"), None);
}

/// Rules it cannot run, each with words its reason must contain.
const REFUSED: &[(&str, &str, &str)] = &[
    ("modifier", "    sel:\n        requestParameters|base64offset|contains: 'x'\n    condition: sel", "modifier `base64offset` is not supported"),
    ("expand", "    sel:\n        userIdentity.arn|expand: '%admins%'\n    condition: sel", "modifier `expand` is not supported"),
    ("windash", "    sel:\n        userAgent|windash|contains: '-x'\n    condition: sel", "modifier `windash` is not supported"),
    ("two-kinds", "    sel:\n        userAgent|contains|startswith: 'x'\n    condition: sel", "cannot be combined"),
    ("aggregation", "    sel:\n        eventName: ConsoleLogin\n    condition: sel | count() by sourceIPAddress > 10", "aggregations"),
    ("near", "    sel:\n        eventName: A\n    other:\n        eventName: B\n    condition: sel near other", "`near`"),
    ("timeframe", "    sel:\n        eventName: ConsoleLogin\n    timeframe: 5m\n    condition: sel", "`timeframe`"),
    ("keywords", "    keywords:\n        - 'mimikatz'\n        - 'rubeus'\n    condition: keywords", "keyword searches"),
    ("undefined", "    sel:\n        eventName: A\n    condition: sel and filter", "`filter`, which is not a search"),
    ("no-match", "    sel:\n        eventName: A\n    condition: 1 of filter_*", "names no search"),
    ("two-of", "    sel:\n        eventName: A\n    condition: 2 of sel", "`2 of`"),
    ("syntax", "    sel:\n        eventName: A\n    condition: (sel", "without its `)`"),
    ("no-condition", "    sel:\n        eventName: A", "no `condition`"),
    ("bad-regex", "    sel:\n        eventName|re: '(unclosed'\n    condition: sel", "not a supported regular expression"),
    ("empty-list", "    sel:\n        eventName: []\n    condition: sel", "empty list"),
    ("nested-value", "    sel:\n        eventName:\n            a: b\n    condition: sel", "list or mapping"),
    ("null-contains", "    sel:\n        errorCode|contains: null\n    condition: sel", "`null` with modifier `contains`"),
    ("bad-cidr", "    sel:\n        sourceIPAddress|cidr: 'somewhere'\n    condition: sel", "not a CIDR network"),
];

#[test]
fn unsupported_rules_are_refused_with_the_reason_and_never_fire() {
    let mut texts: Vec<(String, String)> = REFUSED
        .iter()
        .map(|(id, detection, _)| (format!("{id}.yml"), rule(id, detection)))
        .collect();
    // Not CloudTrail, no id, not YAML, a correlation, a duplicate id, status unsupported.
    texts.push((
        "windows.yml".into(),
        rule(
            "windows",
            "    sel:\n        EventID: 4688\n    condition: sel",
        )
        .replace(
            "product: aws\n    service: cloudtrail",
            "product: windows\n    category: process_creation",
        ),
    ));
    texts.push((
        "azure.yml".into(),
        rule(
            "azure",
            "    sel:\n        operationName: x\n    condition: sel",
        )
        .replace(
            "product: aws\n    service: cloudtrail",
            "product: azure\n    service: activitylogs",
        ),
    ));
    texts.push((
        "no-id.yml".into(),
        rule("noid", "    sel:\n        eventName: A\n    condition: sel")
            .replace("id: noid\n", ""),
    ));
    texts.push(("broken.yml".into(), "title: x\n  detection: [\n".into()));
    texts.push((
        "correlation.yml".into(),
        "title: c\nid: corr\ncorrelation:\n    type: event_count\n    rules: [r1]\n    timespan: 5m\n".into(),
    ));
    texts.push((
        "dup.yml".into(),
        rule(
            "ok",
            "    sel:\n        eventName: DeleteUser\n    condition: sel",
        ),
    ));
    texts.push((
        "unsupported.yml".into(),
        rule(
            "unsup",
            "    sel:\n        eventName: A\n    condition: sel",
        )
        .replace("status: test", "status: unsupported"),
    ));
    // And one that runs, first in the set (the duplicate above comes after it).
    texts.insert(
        0,
        (
            "ok.yml".into(),
            rule(
                "ok",
                "    sel:\n        eventName: CreateUser\n    condition: sel",
            ),
        ),
    );
    let set = RuleSet::from_texts(texts.iter().map(|(p, t)| (p.as_str(), t.as_str())));
    let catalog = set.catalog();
    assert_eq!(catalog.len(), texts.len(), "every file is catalogued");
    let reason = |id: &str| {
        catalog
            .iter()
            .find(|r| r.id == id)
            .unwrap_or_else(|| {
                panic!(
                    "{id} not catalogued: {:?}",
                    catalog.iter().map(|r| &r.id).collect::<Vec<_>>()
                )
            })
            .refused
            .clone()
            .unwrap_or_else(|| panic!("{id} not refused"))
    };
    for (id, _, why) in REFUSED {
        let r = reason(&format!("sigma.{id}"));
        assert!(r.contains(why), "{id}: {r}");
    }
    assert!(reason("sigma.windows").contains(
        "logsource (category: process_creation, product: windows) is not AWS CloudTrail"
    ));
    assert!(reason("sigma.azure").contains("not AWS CloudTrail"));
    assert!(reason("sigma.unidentified.no-id.yml").contains("no `id`"));
    assert!(reason("sigma.unreadable.broken.yml").contains("not YAML"));
    assert!(reason("sigma.corr").contains("correlation rules are not supported"));
    assert!(reason("sigma.ok.duplicate.dup.yml").contains("already used by ok.yml"));
    assert!(reason("sigma.unsup").contains("unsupported"));
    let ok = catalog.iter().find(|r| r.id == "sigma.ok").unwrap();
    assert_eq!(ok.refused, None);
    assert_eq!(set.loaded().count(), 1);
    for (entry, reason) in set.refused() {
        println!("refused {}: {reason}", entry.rule_id);
    }
    // Only the rule that runs fires, whatever the event.
    for extra in [
        json!({}),
        json!({"eventName": "DeleteUser"}),
        json!({"eventName": "A"}),
        json!({"eventName": "ConsoleLogin"}),
    ] {
        let r = record(extra);
        let findings = set.detect(&testing::event_from_record(&r));
        assert!(
            findings.iter().all(|f| f.rule_id == "sigma.ok"),
            "{findings:?}"
        );
    }
}

#[test]
fn several_documents_in_one_file() {
    let text = format!(
        "{}---\n{}",
        rule(
            "first",
            "    sel:\n        eventName: CreateUser\n    condition: sel"
        ),
        rule(
            "second",
            "    sel:\n        eventName|endswith: User\n    condition: sel"
        )
    );
    let set = RuleSet::from_texts([("two.yml", text.as_str())]);
    let sources: Vec<&str> = set
        .entries
        .iter()
        .map(|e| e.rule.meta.source.as_str())
        .collect();
    assert_eq!(sources, ["two.yml#1", "two.yml#2"]);
    let r = record(json!({}));
    let ids: Vec<String> = set
        .detect(&testing::event_from_record(&r))
        .into_iter()
        .map(|f| f.rule_id)
        .collect();
    assert_eq!(ids, ["sigma.first", "sigma.second"]);
    // A global action document (a rule collection) is refused, not merged.
    let collection = format!(
        "action: global\ntitle: g\nlogsource:\n    product: aws\n---\n{}",
        rule(
            "third",
            "    sel:\n        eventName: A\n    condition: sel"
        )
    );
    let set = RuleSet::from_texts([("coll.yml", collection.as_str())]);
    assert!(set.refused().next().unwrap().1.contains("rule collections"));
}

fn handle(config: Value, records: &[Value]) -> Result<Vec<String>, PluginError> {
    let config = Config::from_value(config).unwrap();
    let events: Vec<_> = records.iter().map(testing::event_from_record).collect();
    Sigma::handle(
        &events,
        &RecordingCapabilities::new(),
        &MemoryState::new(),
        &config,
    )
    .map(|f| f.into_iter().map(|f| f.rule_id).collect())
}

#[test]
fn configured_rules_replace_the_shipped_ones() {
    let mine = rule(
        "mine",
        "    sel:\n        eventName: CreateUser\n    condition: sel",
    );
    let root = json!({"eventSource": "iam.amazonaws.com", "eventName": "CreateUser", "eventID": "x1",
        "userIdentity": {"type": "Root", "arn": "arn:aws:iam::111122223333:root"}, "eventType": "AwsApiCall"});
    // Shipped: the root rule fires; configured: only mine.
    assert_eq!(
        handle(json!({}), std::slice::from_ref(&root)).unwrap(),
        ["sigma.8ad1600d-e9dc-4251-b0ee-a65268f29add"]
    );
    let config = json!({"rules": [{"path": "mine.yml", "text": mine}]});
    assert_eq!(
        handle(config.clone(), std::slice::from_ref(&root)).unwrap(),
        ["sigma.mine"]
    );
    let catalog = Sigma::rules(&Config::from_value(config).unwrap());
    assert_eq!(catalog.len(), 1);
    assert_eq!(catalog[0].id, "sigma.mine");
    // A plain YAML string is accepted; an item without text is refused, not dropped.
    let config = json!({"rules": [mine, {"path": "empty.yml"}, 42]});
    assert_eq!(
        handle(config.clone(), std::slice::from_ref(&root)).unwrap(),
        ["sigma.mine"]
    );
    let catalog = Sigma::rules(&Config::from_value(config).unwrap());
    let refused: Vec<(&str, &str)> = catalog
        .iter()
        .filter_map(|r| r.refused.as_deref().map(|why| (r.id.as_str(), why)))
        .collect();
    assert_eq!(
        refused,
        [
            (
                "sigma.unreadable.empty.yml",
                "the config item has neither `text` (YAML) nor `docs` (a list)"
            ),
            (
                "sigma.unreadable.rules[2]",
                "the config item is neither YAML text nor an object"
            ),
        ]
    );
    // Documents already as JSON (`docs`), e.g. converted once by the host.
    let doc = sigma::yaml::documents(&mine).unwrap();
    let config = json!({"rules": [{"path": "mine.yml", "docs": doc}]});
    assert_eq!(
        handle(config, std::slice::from_ref(&root)).unwrap(),
        ["sigma.mine"]
    );
    // An empty list: no rules at all.
    assert!(handle(json!({"rules": []}), std::slice::from_ref(&root))
        .unwrap()
        .is_empty());
    assert!(Sigma::rules(&Config::from_value(json!({"rules": []})).unwrap()).is_empty());
    // Not a list: the batch fails, and the catalog says why.
    let err = handle(json!({"rules": "rules/"}), &[root]).unwrap_err();
    assert!(
        matches!(err, PluginError::BadInput(ref m) if m.contains("must be a list")),
        "{err}"
    );
    let catalog = Sigma::rules(&Config::from_value(json!({"rules": {"a": 1}})).unwrap());
    assert_eq!(catalog.len(), 1);
    assert_eq!(catalog[0].id, sigma::CONFIG_RULE_ID);
    assert!(catalog[0]
        .refused
        .as_deref()
        .unwrap()
        .contains("must be a list"));
}

#[test]
fn unreadable_records_raise_nothing() {
    let set = RuleSet::embedded();
    let mut event = testing::event_from_record(&json!({"eventName": "StopLogging",
        "eventSource": "cloudtrail.amazonaws.com", "userIdentity": {"type": "Root"}}));
    assert!(!set.detect(&event).is_empty());
    event.raw = "not json {".into();
    assert!(set.detect(&event).is_empty());
    event.raw = "[1, 2]".into();
    assert!(set.detect(&event).is_empty());
}
