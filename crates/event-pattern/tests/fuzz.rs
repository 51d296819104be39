//! Property tests: arbitrary patterns never panic the parser, and for valid
//! patterns the naive matcher (`Pattern::matches`) and the index
//! (`PatternSet::matching_ids`) agree on arbitrary events. The two share only
//! the final per-branch check, so disagreement exposes an index that misses
//! candidates or mixes up ids.

use event_pattern::{Pattern, PatternSet};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

const KEYS: &[&str] = &["a", "b", "c", "a.b", "detail", ""];
const STRINGS: &[&str] = &[
    "",
    "x",
    "X",
    "xy",
    "abc",
    "ABC",
    "a.b",
    "init-x",
    "x.png",
    "10.0.0.1",
    "10.0.0.77",
    "2001:db8::1",
    "*",
    "x*",
    "*y",
    "a*c",
    "a**b",
    "\\*",
    "\\",
    "10.0.0.0/24",
    "2001:db8::/64",
    "bad",
    ">",
    "<",
    "=",
    ">=",
    "<=",
    "É",
    "é",
];
const OPERATORS: &[&str] = &[
    "prefix",
    "suffix",
    "equals-ignore-case",
    "wildcard",
    "anything-but",
    "numeric",
    "exists",
    "cidr",
    "NUMERIC",
    "bogus",
];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        prop::sample::select(vec![0i64, 1, -2, 5, 100]).prop_map(|n| json!(n)),
        prop::sample::select(vec![1.0f64, 2.5, -0.5, 5.0, 1e10]).prop_map(|f| json!(f)),
        prop::sample::select(STRINGS).prop_map(|s| json!(s)),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop::sample::select(KEYS).prop_map(str::to_string)
}

/// Any small JSON value; also used as an event.
fn json_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn event() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(key(), json_value(), 0..5)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

/// Operands shaped like the real thing, plus arbitrary junk.
fn operand() -> impl Strategy<Value = Value> {
    let op = prop::sample::select(vec![">", ">=", "<", "<=", "=", "~"]);
    prop_oneof![
        3 => scalar(),
        2 => prop::collection::vec(scalar(), 0..4).prop_map(Value::Array),
        2 => (op.clone(), scalar()).prop_map(|(o, n)| json!([o, n])),
        2 => (op.clone(), -5i64..5, op, -5i64..10).prop_map(|(a, x, b, y)| json!([a, x, b, y])),
        2 => (prop::sample::select(vec!["equals-ignore-case", "prefix", "suffix", "wildcard", "nope"]),
              prop_oneof![scalar(), prop::collection::vec(scalar(), 0..3).prop_map(Value::Array)])
            .prop_map(|(k, v)| json!({ k: v })),
        1 => json_value(),
    ]
}

fn string() -> impl Strategy<Value = String> {
    prop::sample::select(STRINGS).prop_map(str::to_string)
}

/// Rules that are valid as generated (operands of the right shape).
fn good_rule() -> impl Strategy<Value = Value> {
    let num = prop::sample::select(vec![-2i64, 0, 1, 5, 100]);
    prop_oneof![
        3 => scalar(),
        1 => (prop::sample::select(vec!["prefix", "suffix", "equals-ignore-case"]), string())
            .prop_map(|(k, v)| json!({ k: v })),
        1 => (prop::sample::select(vec!["prefix", "suffix"]), string())
            .prop_map(|(k, v)| json!({ k: {"equals-ignore-case": v} })),
        1 => prop::sample::select(vec!["*", "x*", "*y", "a*c", "*.png", "", "x", "*b*"])
            .prop_map(|w| json!({"wildcard": w})),
        1 => prop_oneof![
            string().prop_map(|s| json!(s)),
            num.clone().prop_map(|n| json!(n)),
            prop::collection::vec(string(), 1..3).prop_map(|v| json!(v)),
            (prop::sample::select(vec!["prefix", "suffix", "equals-ignore-case", "wildcard"]),
             prop::sample::select(vec!["x", "a", "init", "*y"]))
                .prop_map(|(k, v)| json!({ k: v })),
        ]
        .prop_map(|v| json!({"anything-but": v})),
        1 => (prop::sample::select(vec![">", ">=", "<", "<=", "="]), num.clone())
            .prop_map(|(o, n)| json!({"numeric": [o, n]})),
        1 => (num, 1i64..50).prop_map(|(a, d)| json!({"numeric": [">", a, "<=", a + d]})),
        1 => any::<bool>().prop_map(|b| json!({"exists": b})),
        1 => prop::sample::select(vec!["10.0.0.0/24", "10.0.0.0/8", "2001:db8::/64"])
            .prop_map(|c| json!({"cidr": c})),
    ]
}

fn rule() -> impl Strategy<Value = Value> {
    prop_oneof![
        12 => good_rule(),
        1 => (prop::sample::select(OPERATORS), operand()).prop_map(|(k, v)| json!({ k: v })),
        1 => json_value(),
    ]
}

/// Mostly valid patterns: objects whose leaves are rule lists, with `$or`.
fn pattern() -> impl Strategy<Value = Value> {
    let leaf = prop::collection::vec(rule(), 1..4).prop_map(Value::Array);
    let field = prop_oneof![20 => leaf, 1 => Just(json!([])), 1 => scalar()];
    let flat = prop::collection::btree_map(key(), field, 1..3)
        .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>()));
    flat.prop_recursive(3, 12, 3, |inner| {
        let nested = prop::collection::btree_map(
            key(),
            prop_oneof![
                2 => inner.clone(),
                3 => prop::collection::vec(rule(), 1..3).prop_map(Value::Array),
            ],
            1..3,
        );
        (
            nested,
            prop::option::weighted(0.3, prop::collection::vec(inner, 1..4)),
        )
            .prop_map(|(m, or)| {
                let mut obj: Map<String, Value> = m.into_iter().collect();
                if let Some(alts) = or {
                    obj.insert("$or".into(), Value::Array(alts));
                }
                Value::Object(obj)
            })
    })
}

/// Builds an event that tends to satisfy `pattern`, so the differential test
/// also exercises matches (random events rarely match). `choice` steers
/// which operand is used and whether values get wrapped in arrays.
fn witness(pattern: &Value, choice: &mut impl Iterator<Item = usize>) -> Value {
    fn pick(choice: &mut impl Iterator<Item = usize>, n: usize) -> usize {
        choice.next().unwrap_or(0) % n.max(1)
    }
    let mut out = Map::new();
    let Value::Object(obj) = pattern else {
        return Value::Object(out);
    };
    for (k, v) in obj {
        let value = match v {
            Value::Object(_) => witness(v, choice),
            Value::Array(rules) if k == "$or" => {
                let Some(alt) = rules.get(pick(choice, rules.len())) else {
                    continue;
                };
                if let Value::Object(w) = witness(alt, choice) {
                    out.extend(w);
                }
                continue;
            }
            Value::Array(rules) if !rules.is_empty() => {
                let rule = &rules[pick(choice, rules.len())];
                let operand = match rule {
                    Value::Object(m) => m.values().next().cloned().unwrap_or(Value::Null),
                    other => other.clone(),
                };
                let scalar = match operand {
                    Value::String(s) if s.contains('/') => json!("10.0.0.1"),
                    Value::String(s) => json!(s.replace('*', "")),
                    Value::Array(a) => a
                        .iter()
                        .find(|x| x.is_number())
                        .cloned()
                        .unwrap_or(json!("x")),
                    Value::Object(m) => m.values().next().cloned().unwrap_or(json!("x")),
                    other => other,
                };
                match pick(choice, 4) {
                    0 => json!([scalar, "other"]),
                    1 => json!([{ "q": 1 }]),
                    _ => scalar,
                }
            }
            _ => continue,
        };
        if pick(choice, 5) == 0 {
            out.insert(k.clone(), json!([value, {}]));
        } else {
            out.insert(k.clone(), value);
        }
    }
    Value::Object(out)
}

proptest! {
    #[test]
    fn parse_never_panics_on_text(text in ".{0,64}") {
        let _ = Pattern::parse(&text);
    }

    #[test]
    fn parse_never_panics_on_json(v in prop_oneof![pattern(), json_value()]) {
        if let Ok(p) = Pattern::from_value(&v) {
            let _ = p.matches(&json!({"a": 1}));
        }
    }

    #[test]
    fn set_agrees_with_naive_matching(
        patterns in prop::collection::vec(pattern(), 1..8),
        random_events in prop::collection::vec(prop_oneof![event(), json_value()], 1..4),
        choices in prop::collection::vec(0usize..1000, 64),
    ) {
        let mut choice = choices.into_iter().cycle();
        let mut events = random_events;
        events.extend(patterns.iter().map(|p| witness(p, &mut choice)));
        let compiled: Vec<(u32, Pattern)> = patterns
            .iter()
            .enumerate()
            .filter_map(|(i, p)| Some((u32::try_from(i).ok()?, Pattern::from_value(p).ok()?)))
            .collect();
        let mut set = PatternSet::new();
        for (id, p) in &compiled {
            set.add(*id, p);
        }
        for ev in &events {
            let expected: Vec<u32> = compiled
                .iter()
                .filter(|(_, p)| p.matches(ev))
                .map(|(id, _)| *id)
                .collect();
            prop_assert_eq!(set.matching_ids(ev), expected.clone(), "event {}", ev);
            // The same object given as its top-level fields, never built.
            if let Value::Object(map) = ev {
                let fields: Vec<(&str, &Value)> =
                    map.iter().map(|(k, v)| (k.as_str(), v)).collect();
                prop_assert_eq!(set.matching_ids_in_fields(&fields), expected, "fields of {}", ev);
            }
            for (id, p) in &compiled {
                let mut single = PatternSet::new();
                single.add(*id, p);
                prop_assert_eq!(single.matching_ids(ev).contains(id), p.matches(ev));
            }
        }
    }
}

/// Guards the generator itself: a fuzz run that only produced invalid
/// patterns, or only non-matching ones, would prove nothing.
#[test]
fn generator_produces_valid_and_matching_patterns() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut valid, mut matched) = (0, 0);
    let mut choice = (0usize..).map(|i| i * 7 + 3);
    for _ in 0..500 {
        let p = pattern().new_tree(&mut runner).unwrap().current();
        let e = witness(&p, &mut choice);
        if let Ok(p) = Pattern::from_value(&p) {
            valid += 1;
            matched += usize::from(p.matches(&e));
        }
    }
    println!("valid patterns: {valid}/500, matched by their witness event: {matched}");
    assert!(
        valid >= 150,
        "only {valid}/500 generated patterns were valid"
    );
    assert!(matched >= 50, "only {matched} witness events matched");
}
