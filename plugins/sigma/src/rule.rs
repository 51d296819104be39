//! One Sigma rule: its metadata, and its detection compiled into searches and a condition,
//! or the reason it cannot be run here.

use std::cell::OnceCell;

use serde_json::{json, Value};
use trailwarden_plugin_sdk::Severity;

use crate::condition::{self, Expr};
use crate::matcher::{self, Cidr, Compare, ValueMatcher, Wildcard};

/// What a Sigma rule says about itself.
#[derive(Debug, Clone, Default)]
pub struct Meta {
    /// The rule's `id` (a UUID); empty when it has none.
    pub id: String,
    pub title: String,
    /// `level` as written (`informational`, `low`, `medium`, `high`, `critical`).
    pub level: String,
    pub status: String,
    /// The file it came from, and the document's index when the file holds several.
    pub source: String,
    /// The rest, which only findings and the catalog need.
    pub info: LazyInfo,
}

/// The part of a rule's metadata that matching never needs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Info {
    /// `description`, its whitespace collapsed.
    pub description: String,
    pub tags: Vec<String>,
    /// ATT&CK technique ids from the `attack.tNNNN[.NNN]` tags, upper-cased (`T1562.008`).
    pub techniques: Vec<String>,
    pub author: String,
    pub references: Vec<String>,
    pub falsepositives: Vec<String>,
}

/// The keys of a rule that make its [`Info`]; `build.rs` keeps them apart for the shipped
/// rules, as JSON read only when a finding or the catalog needs them.
pub const INFO_KEYS: &[&str] = &[
    "description",
    "references",
    "author",
    "tags",
    "falsepositives",
];

impl Info {
    /// From a rule document (or the part of it holding [`INFO_KEYS`]).
    pub fn from_doc(doc: &Value) -> Info {
        let tags = texts(doc.get("tags"));
        let mut techniques = Vec::new();
        for t in tags.iter().filter_map(|t| technique(t)) {
            if !techniques.contains(&t) {
                techniques.push(t);
            }
        }
        Info {
            description: text(doc, "description")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
            tags,
            techniques,
            author: text(doc, "author").trim().to_owned(),
            references: texts(doc.get("references")),
            falsepositives: texts(doc.get("falsepositives"))
                .into_iter()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
        }
    }
}

/// An [`Info`], possibly still as JSON text (the shipped rules), read on first use.
#[derive(Debug, Clone, Default)]
pub struct LazyInfo {
    json: &'static str,
    cell: OnceCell<Info>,
}

impl LazyInfo {
    pub fn ready(info: Info) -> LazyInfo {
        LazyInfo {
            json: "",
            cell: OnceCell::from(info),
        }
    }

    /// From the JSON object text of a rule's [`INFO_KEYS`].
    pub fn json(text: &'static str) -> LazyInfo {
        LazyInfo {
            json: text,
            cell: OnceCell::new(),
        }
    }

    pub fn get(&self) -> &Info {
        self.cell
            .get_or_init(|| Info::from_doc(&serde_json::from_str(self.json).unwrap_or(Value::Null)))
    }
}

impl Meta {
    /// The severity of its `level`; medium when it has none.
    pub fn severity(&self) -> Option<Severity> {
        Some(match self.level.to_ascii_lowercase().as_str() {
            "informational" | "info" => Severity::Info,
            "low" => Severity::Low,
            "" | "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }
}

/// A compiled detection: named searches and the condition over them.
#[derive(Debug, Clone)]
pub struct Detection {
    pub names: Vec<String>,
    pub searches: Vec<Search>,
    pub condition: Expr,
    /// When the condition can only hold for an `eventSource` equal (case-insensitively) to
    /// one of these, lower-cased: a quick pre-check, see [`required_literals`].
    pub sources: Option<Vec<String>>,
    /// The same for `eventName`: with the sources, what picks a shipped rule to compile.
    pub event_names: Option<Vec<String>>,
    /// What must hold of the fields every plugin gets already parsed ([`HOT_FIELDS`]) for
    /// the condition to hold: checked before the record is parsed.
    pub hot: HotCheck,
}

/// Record fields the host hands every plugin already parsed, with the same value.
pub const HOT_FIELDS: &[&str] = &[
    "eventSource",
    "eventName",
    "eventType",
    "awsRegion",
    "userAgent",
    "sourceIPAddress",
    "errorCode",
    "errorMessage",
    "userIdentity.type",
    "userIdentity.arn",
    "userIdentity.accessKeyId",
    "userIdentity.invokedBy",
];

/// A necessary condition of a rule on [`HOT_FIELDS`] only: what must hold of the parsed
/// fields for the rule's condition to be able to hold.
#[derive(Debug, Clone)]
pub enum HotCheck {
    /// Every test holds (none: nothing is required).
    All(Vec<FieldTest>),
    And(Vec<HotCheck>),
    /// One of them holds.
    Any(Vec<HotCheck>),
}

impl HotCheck {
    /// The necessary condition of `expr`: each search's hot tests, combined as the
    /// condition combines the searches; nothing is required under `not`.
    pub fn of(expr: &Expr, searches: &[Search]) -> HotCheck {
        let hot = |tests: &[FieldTest]| {
            HotCheck::All(
                tests
                    .iter()
                    .filter(|t| HOT_FIELDS.contains(&t.field.as_str()))
                    .cloned()
                    .collect(),
            )
        };
        match expr {
            Expr::Search(i) => match &searches[*i] {
                Search::AllOf(tests) => hot(tests),
                Search::AnyOf(maps) => HotCheck::Any(maps.iter().map(|m| hot(m)).collect()),
            },
            Expr::And(items) => {
                HotCheck::And(items.iter().map(|e| Self::of(e, searches)).collect())
            }
            Expr::Or(items) => HotCheck::Any(items.iter().map(|e| Self::of(e, searches)).collect()),
            Expr::Not(_) => HotCheck::All(Vec::new()),
        }
    }

    /// Whether it holds for the parsed fields in `hot`; a test on a field `hot` lacks is
    /// taken to hold (the record may still have it).
    pub fn holds(&self, hot: &Value, known: &dyn Fn(&str) -> bool) -> bool {
        match self {
            HotCheck::All(tests) => tests.iter().all(|t| !known(&t.field) || t.matches(hot)),
            HotCheck::And(checks) => checks.iter().all(|c| c.holds(hot, known)),
            HotCheck::Any(checks) => {
                checks.is_empty() || checks.iter().any(|c| c.holds(hot, known))
            }
        }
    }
}

/// The field [`Detection::sources`] is about.
pub const SOURCE_FIELD: &str = "eventSource";

/// The record field of the call's name.
pub const NAME_FIELD: &str = "eventName";

/// The record fields (always text in CloudTrail) the subscription is narrowed by: what a
/// rule requires of each ([`required_matchers`]) goes into its EventBridge pattern.
pub const SUBSCRIPTION_FIELDS: &[&str] = &[
    "eventSource",
    "eventName",
    "eventType",
    "userIdentity.type",
    "userIdentity.arn",
    "userAgent",
];

/// One search identifier: a map (every field test holds) or a list of maps (one of them
/// holds).
#[derive(Debug, Clone)]
pub enum Search {
    AllOf(Vec<FieldTest>),
    AnyOf(Vec<Vec<FieldTest>>),
}

/// One `field|modifiers: values` entry.
#[derive(Debug, Clone)]
pub struct FieldTest {
    pub field: String,
    pub test: Test,
}

#[derive(Debug, Clone)]
pub enum Test {
    /// The values, one of which (`all`: each of which) matches.
    Values {
        matchers: Vec<ValueMatcher>,
        all: bool,
    },
    /// `exists: true|false`.
    Exists(bool),
    /// `fieldref`: the field's value compared with those of other fields.
    FieldRef {
        fields: Vec<String>,
        kind: RefKind,
        fold: bool,
        all: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RefKind {
    Equals,
    Contains,
    StartsWith,
    EndsWith,
}

impl Detection {
    /// Adds the record's top-level fields that this detection's tests can read: each field
    /// path, and each of its dotted prefixes (a path resolves against a key with dots in it
    /// before it descends, see [`crate::matcher::resolve`]).
    pub fn record_keys(&self, keys: &mut std::collections::BTreeSet<String>) {
        let mut add = |path: &str| {
            add_key(keys, path);
            for (i, _) in path.match_indices('.') {
                add_key(keys, &path[..i]);
            }
        };
        for search in &self.searches {
            let tests: Vec<&FieldTest> = match search {
                Search::AllOf(tests) => tests.iter().collect(),
                Search::AnyOf(maps) => maps.iter().flatten().collect(),
            };
            for test in tests {
                add(&test.field);
                if let Test::FieldRef { fields, .. } = &test.test {
                    for field in fields {
                        add(field);
                    }
                }
            }
        }
    }

    /// Whether the record matches the condition.
    pub fn matches(&self, record: &Value) -> bool {
        self.condition
            .eval(&mut |i| self.searches[i].matches(record))
    }
}

/// The lower-cased literals of which `field` must equal one (compared as [`Wildcard`]s with
/// case folding compare them) for `expr` to hold, when the condition implies such a list;
/// `None` when it does not. An `and` takes the common part of what its operands require
/// (one requiring operand suffices), an `or` the union (every operand must require), a
/// `not` requires nothing.
pub fn required_literals(expr: &Expr, searches: &[Search], field: &str) -> Option<Vec<String>> {
    match expr {
        Expr::Search(i) => match &searches[*i] {
            Search::AllOf(tests) => tests_require(tests, field),
            Search::AnyOf(maps) => union(maps.iter().map(|tests| tests_require(tests, field))),
        },
        Expr::Not(_) => None,
        Expr::And(items) => items
            .iter()
            .filter_map(|e| required_literals(e, searches, field))
            .reduce(|a, b| a.into_iter().filter(|x| b.contains(x)).collect()),
        Expr::Or(items) => union(items.iter().map(|e| required_literals(e, searches, field))),
    }
}

/// EventBridge matchers of which `field`'s value must satisfy one for `expr` to hold (a
/// necessary condition, perhaps looser than the rule), when the condition implies one;
/// `None` when it does not. Plain values become `equals-ignore-case` (or exact strings when
/// `cased`), a literal start `prefix`, a case-sensitive regular expression with a required
/// literal a `*literal*` wildcard. An `and` takes the first operand that requires
/// something, an `or` the union (every operand must require), a `not` requires nothing.
pub fn required_matchers(expr: &Expr, searches: &[Search], field: &str) -> Option<Vec<Value>> {
    match expr {
        Expr::Search(i) => match &searches[*i] {
            Search::AllOf(tests) => tests_require_matchers(tests, field),
            Search::AnyOf(maps) => union_values(
                maps.iter()
                    .map(|tests| tests_require_matchers(tests, field)),
            ),
        },
        Expr::Not(_) => None,
        Expr::And(items) => items
            .iter()
            .find_map(|e| required_matchers(e, searches, field)),
        Expr::Or(items) => {
            union_values(items.iter().map(|e| required_matchers(e, searches, field)))
        }
    }
}

fn union_values(parts: impl Iterator<Item = Option<Vec<Value>>>) -> Option<Vec<Value>> {
    let mut all: Vec<Value> = Vec::new();
    for part in parts {
        for x in part? {
            if !all.contains(&x) {
                all.push(x);
            }
        }
    }
    Some(all)
}

/// What one map's tests (all of which hold) require of `field`, as EventBridge matchers:
/// the first test on it whose values all translate (with `all`, the first value that does).
fn tests_require_matchers(tests: &[FieldTest], field: &str) -> Option<Vec<Value>> {
    tests
        .iter()
        .filter(|t| t.field == field)
        .find_map(|t| match &t.test {
            Test::Values {
                matchers,
                all: true,
            } => matchers.iter().find_map(event_matcher).map(|m| vec![m]),
            Test::Values { matchers, .. } => matchers
                .iter()
                .map(event_matcher)
                .collect::<Option<Vec<Value>>>(),
            _ => None,
        })
}

/// An EventBridge matcher that every text `m` matches also matches, if there is one.
fn event_matcher(m: &ValueMatcher) -> Option<Value> {
    match m {
        ValueMatcher::Wildcard(w) => match (w.literal(), w.literal_prefix(), w.folds()) {
            (Some(l), _, true) => Some(json!({ "equals-ignore-case": l })),
            (Some(l), _, false) => Some(Value::String(l)),
            (None, Some(p), true) => Some(json!({"prefix": {"equals-ignore-case": p}})),
            (None, Some(p), false) => Some(json!({ "prefix": p })),
            (None, None, _) => None,
        },
        ValueMatcher::Regex(_, Some(literal)) if !literal.is_empty() => {
            let escaped = literal.replace('\\', "\\\\").replace('*', "\\*");
            Some(json!({ "wildcard": format!("*{escaped}*") }))
        }
        _ => None,
    }
}

fn union(parts: impl Iterator<Item = Option<Vec<String>>>) -> Option<Vec<String>> {
    let mut all: Vec<String> = Vec::new();
    for part in parts {
        for x in part? {
            if !all.contains(&x) {
                all.push(x);
            }
        }
    }
    Some(all)
}

/// What the tests of one map (all of which must hold) require of `field`: plain values
/// without wildcards, folded; with `all` each value is required, so the list still holds.
fn tests_require(tests: &[FieldTest], field: &str) -> Option<Vec<String>> {
    tests
        .iter()
        .filter(|t| t.field == field)
        .filter_map(|t| match &t.test {
            Test::Values { matchers, .. } => matchers
                .iter()
                .map(|m| match m {
                    ValueMatcher::Wildcard(w) if w.folds() => w.literal(),
                    _ => None,
                })
                .collect::<Option<Vec<String>>>(),
            _ => None,
        })
        .reduce(|a, b| a.into_iter().filter(|x| b.contains(x)).collect())
}

impl Search {
    pub fn matches(&self, record: &Value) -> bool {
        match self {
            Search::AllOf(tests) => tests.iter().all(|t| t.matches(record)),
            Search::AnyOf(maps) => maps
                .iter()
                .any(|tests| tests.iter().all(|t| t.matches(record))),
        }
    }
}

impl FieldTest {
    pub fn matches(&self, record: &Value) -> bool {
        let mut values = Vec::new();
        matcher::resolve(record, &self.field, &mut values);
        match &self.test {
            Test::Values { matchers, all } => {
                if *all {
                    matchers.iter().all(|m| m.matches(&values))
                } else {
                    matchers.iter().any(|m| m.matches(&values))
                }
            }
            Test::Exists(want) => values.is_empty() != *want,
            Test::FieldRef {
                fields,
                kind,
                fold,
                all,
            } => {
                let one = |other: &String| {
                    let mut refs = Vec::new();
                    matcher::resolve(record, other, &mut refs);
                    let mut wanted = Vec::new();
                    for r in &refs {
                        matcher::any_scalar(r, &mut |t| {
                            wanted.push(t.to_owned());
                            false
                        });
                    }
                    wanted.iter().any(|w| {
                        values.iter().any(|v| {
                            matcher::any_scalar(v, &mut |t| compare_ref(t, w, *kind, *fold))
                        })
                    })
                };
                if *all {
                    fields.iter().all(one)
                } else {
                    fields.iter().any(one)
                }
            }
        }
    }
}

/// `fieldref`: the field's text `t` against the other field's text `w`, literally (no
/// wildcards: a field's value is data, not a pattern).
fn compare_ref(t: &str, w: &str, kind: RefKind, fold: bool) -> bool {
    let (t, w) = if fold {
        (t.to_lowercase(), w.to_lowercase())
    } else {
        (t.to_owned(), w.to_owned())
    };
    match kind {
        RefKind::Equals => t == w,
        RefKind::Contains => t.contains(&w),
        RefKind::StartsWith => t.starts_with(&w),
        RefKind::EndsWith => t.ends_with(&w),
    }
}

/// A rule as loaded: what it says about itself, and its detection or why it is refused.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub meta: Meta,
    detection: Compiled,
}

/// A rule's detection: compiled, or (a shipped rule) compiled when first needed.
#[derive(Debug, Clone)]
enum Compiled {
    Now(Result<Detection, String>),
    OnFirstUse(&'static Shipped, OnceCell<Result<Detection, String>>),
}

/// A shipped rule as `build.rs` leaves it: its document as JSON, compiled on first use, and
/// what the rule set needs of it before then, which `build.rs` worked out by compiling it
/// with this same code. A batch compiles only the rules its events' sources and names can
/// match (a one-event batch, as the daemon runs them, a few of 57).
#[derive(Debug)]
pub struct Shipped {
    /// The document without its [`INFO_KEYS`], as JSON.
    pub rule: &'static str,
    /// Its [`INFO_KEYS`], as JSON.
    pub info: &'static str,
    /// [`Meta`]'s fields, as [`load`] reads them.
    pub id: &'static str,
    pub title: &'static str,
    pub level: &'static str,
    pub status: &'static str,
    /// Whether it compiles (if not, compiling it says why).
    pub loads: bool,
    /// Its [`Detection::sources`].
    pub sources: Option<&'static [&'static str]>,
    /// Its [`Detection::event_names`].
    pub event_names: Option<&'static [&'static str]>,
    /// Its [`Detection::record_keys`].
    pub record_keys: &'static [&'static str],
}

impl Loaded {
    pub fn new(meta: Meta, detection: Result<Detection, String>) -> Loaded {
        Loaded {
            meta,
            detection: Compiled::Now(detection),
        }
    }

    /// The compiled detection, or why the rule is refused.
    pub fn detection(&self) -> &Result<Detection, String> {
        match &self.detection {
            Compiled::Now(detection) => detection,
            Compiled::OnFirstUse(shipped, cell) => cell.get_or_init(|| {
                let doc = serde_json::from_str(shipped.rule).unwrap_or(Value::Null);
                check(&doc, &self.meta).and_then(|()| compile(&doc))
            }),
        }
    }

    /// Whether its detection has been compiled (a shipped rule is on first use).
    pub fn is_compiled(&self) -> bool {
        match &self.detection {
            Compiled::Now(_) => true,
            Compiled::OnFirstUse(_, cell) => cell.get().is_some(),
        }
    }

    /// Whether the rule runs, without compiling it.
    pub fn loads(&self) -> bool {
        match &self.detection {
            Compiled::Now(detection) => detection.is_ok(),
            Compiled::OnFirstUse(shipped, _) => shipped.loads,
        }
    }

    /// Refuses the rule for `reason`, whatever its detection.
    pub fn refuse(&mut self, reason: String) {
        self.detection = Compiled::Now(Err(reason));
    }

    /// [`Detection::sources`] of a rule that runs (`None` for a refused one), without
    /// compiling it.
    pub fn sources(&self) -> Option<Option<Vec<String>>> {
        self.required(|d| &d.sources, |s| s.sources)
    }

    /// [`Detection::event_names`] of a rule that runs (`None` for a refused one), without
    /// compiling it.
    pub fn event_names(&self) -> Option<Option<Vec<String>>> {
        self.required(|d| &d.event_names, |s| s.event_names)
    }

    /// What a rule that runs requires of a field: from its detection, or from what
    /// `build.rs` embedded for a shipped rule not compiled yet.
    fn required(
        &self,
        compiled: fn(&Detection) -> &Option<Vec<String>>,
        shipped: fn(&Shipped) -> Option<&'static [&'static str]>,
    ) -> Option<Option<Vec<String>>> {
        if !self.loads() {
            return None;
        }
        Some(match &self.detection {
            Compiled::Now(detection) => compiled(detection.as_ref().ok()?).clone(),
            Compiled::OnFirstUse(rule, _) => {
                shipped(rule).map(|s| s.iter().map(|s| (*s).to_owned()).collect())
            }
        })
    }

    /// [`Detection::record_keys`] of a rule that runs (none for a refused one), without
    /// compiling it.
    pub fn record_keys(&self, keys: &mut std::collections::BTreeSet<String>) {
        match &self.detection {
            Compiled::Now(Ok(detection)) => detection.record_keys(keys),
            Compiled::Now(Err(_)) => {}
            Compiled::OnFirstUse(shipped, _) if shipped.loads => {
                for key in shipped.record_keys {
                    add_key(keys, key);
                }
            }
            Compiled::OnFirstUse(..) => {}
        }
    }
}

/// Adds `key` to `keys`, copying it only when new: most rules read the same few fields.
fn add_key(keys: &mut std::collections::BTreeSet<String>, key: &str) {
    if !keys.contains(key) {
        keys.insert(key.to_owned());
    }
}

/// The text of a scalar, or the texts of a list of scalars.
fn texts(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items.iter().filter_map(scalar_text).collect(),
        Some(v) => scalar_text(v).into_iter().collect(),
        None => Vec::new(),
    }
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn text(doc: &Value, key: &str) -> String {
    texts(doc.get(key)).join(", ")
}

/// The ATT&CK technique of a tag such as `attack.t1562.008`: `T1562.008`.
pub fn technique(tag: &str) -> Option<String> {
    let rest = tag.strip_prefix("attack.")?;
    let rest = rest.strip_prefix('t').or_else(|| rest.strip_prefix('T'))?;
    let mut parts = rest.split('.');
    let main = parts.next()?;
    let sub = parts.next();
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(main, 4) || parts.next().is_some() || sub.is_some_and(|s| !digits(s, 3)) {
        return None;
    }
    Some(match sub {
        Some(sub) => format!("T{main}.{sub}"),
        None => format!("T{main}"),
    })
}

/// Loads one YAML document of a rule file (`source` names it in refusals).
pub fn load(doc: &Value, source: &str) -> Loaded {
    let meta = Meta {
        id: text(doc, "id").trim().to_owned(),
        title: text(doc, "title").trim().to_owned(),
        level: text(doc, "level").trim().to_owned(),
        status: text(doc, "status").trim().to_owned(),
        source: source.to_owned(),
        info: LazyInfo::ready(Info::from_doc(doc)),
    };
    let detection = check(doc, &meta).and_then(|()| compile(doc));
    Loaded::new(meta, detection)
}

/// Loads a shipped rule, to be compiled on first use.
pub fn load_shipped(shipped: &'static Shipped, source: &str) -> Loaded {
    let meta = Meta {
        id: shipped.id.to_owned(),
        title: shipped.title.to_owned(),
        level: shipped.level.to_owned(),
        status: shipped.status.to_owned(),
        source: source.to_owned(),
        info: LazyInfo::json(shipped.info),
    };
    Loaded {
        meta,
        detection: Compiled::OnFirstUse(shipped, OnceCell::new()),
    }
}

/// What must hold of a document before its detection is looked at.
fn check(doc: &Value, meta: &Meta) -> Result<(), String> {
    if !doc.is_object() {
        return Err("the document is not a YAML mapping".to_owned());
    }
    for (key, what) in [
        ("correlation", "Sigma correlation rules"),
        (
            "action",
            "Sigma rule collections (`action: global/reset/repeat`)",
        ),
        ("filter", "Sigma filter rules"),
    ] {
        if doc.get(key).is_some() {
            return Err(format!("{what} are not supported"));
        }
    }
    if meta.id.is_empty() {
        return Err("the rule has no `id`, which its findings' rule id is made of".to_owned());
    }
    if meta.title.is_empty() {
        return Err("the rule has no `title`".to_owned());
    }
    if meta.severity().is_none() {
        return Err(format!(
            "unknown level `{}` (informational, low, medium, high, critical)",
            meta.level
        ));
    }
    if meta.status.eq_ignore_ascii_case("unsupported") {
        return Err(
            "its status is `unsupported`: Sigma marks it as not usable as it is".to_owned(),
        );
    }
    let logsource = doc
        .get("logsource")
        .and_then(Value::as_object)
        .ok_or("the rule has no `logsource`")?;
    let get = |k: &str| logsource.get(k).and_then(scalar_text).unwrap_or_default();
    let (product, service) = (get("product"), get("service"));
    if !product.eq_ignore_ascii_case("aws") || !service.eq_ignore_ascii_case("cloudtrail") {
        let said: Vec<String> = logsource
            .iter()
            .filter_map(|(k, v)| scalar_text(v).map(|v| format!("{k}: {v}")))
            .collect();
        return Err(format!(
            "its logsource ({}) is not AWS CloudTrail (product: aws, service: cloudtrail)",
            said.join(", ")
        ));
    }
    Ok(())
}

fn compile(doc: &Value) -> Result<Detection, String> {
    let detection = doc
        .get("detection")
        .and_then(Value::as_object)
        .ok_or("the rule has no `detection` mapping")?;
    let mut names = Vec::new();
    let mut searches = Vec::new();
    for (name, body) in detection {
        if name == "condition" || name == "timeframe" {
            continue;
        }
        let search = compile_search(body).map_err(|e| format!("search `{name}`: {e}"))?;
        names.push(name.clone());
        searches.push(search);
    }
    if detection.contains_key("timeframe") {
        return Err("`timeframe` (a condition over several events) is not supported".to_owned());
    }
    let condition = match detection.get("condition") {
        Some(Value::String(c)) => condition::parse(c, &names)?,
        Some(Value::Array(list)) if !list.is_empty() => {
            // Several conditions: the rule matches when one does.
            let mut any = Vec::new();
            for c in list {
                let c = c.as_str().ok_or("a condition that is not a string")?;
                any.push(condition::parse(c, &names)?);
            }
            Expr::Or(any)
        }
        _ => return Err("the detection has no `condition`".to_owned()),
    };
    let sources = required_literals(&condition, &searches, SOURCE_FIELD);
    let event_names = required_literals(&condition, &searches, NAME_FIELD);
    let hot = HotCheck::of(&condition, &searches);
    Ok(Detection {
        names,
        searches,
        condition,
        sources,
        event_names,
        hot,
    })
}

fn compile_search(body: &Value) -> Result<Search, String> {
    match body {
        Value::Object(map) => Ok(Search::AllOf(compile_map(map)?)),
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object) => {
            let mut maps = Vec::new();
            for item in items {
                maps.push(compile_map(item.as_object().expect("checked"))?);
            }
            Ok(Search::AnyOf(maps))
        }
        Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => Err(
            "keyword searches (a list of values without field names) are not supported".to_owned(),
        ),
        _ => Err("a search must be a mapping of fields or a list of such mappings".to_owned()),
    }
}

fn compile_map(map: &serde_json::Map<String, Value>) -> Result<Vec<FieldTest>, String> {
    if map.is_empty() {
        return Err("an empty mapping".to_owned());
    }
    map.iter()
        .map(|(key, values)| compile_field(key, values).map_err(|e| format!("`{key}`: {e}")))
        .collect()
}

/// The modifiers this plugin knows; others are refused by name.
const MATCH_KINDS: &[&str] = &[
    "contains",
    "startswith",
    "endswith",
    "re",
    "cidr",
    "gt",
    "gte",
    "lt",
    "lte",
    "exists",
    "fieldref",
];

fn compile_field(key: &str, values: &Value) -> Result<FieldTest, String> {
    let mut parts = key.split('|');
    let field = parts.next().unwrap_or_default().trim().to_owned();
    if field.is_empty() {
        return Err(
            "keyword searches (modifiers without a field name) are not supported".to_owned(),
        );
    }
    let mut kind: Option<&str> = None;
    let mut all = false;
    let mut cased = false;
    let mut fieldref = false;
    let mut re_flags = String::new();
    for m in parts {
        let m = m.trim();
        match m {
            "all" => all = true,
            "cased" => cased = true,
            "fieldref" => fieldref = true,
            "i" | "m" | "s" if kind == Some("re") => re_flags.push_str(m),
            m if MATCH_KINDS.contains(&m) => {
                if let Some(k) = kind {
                    return Err(format!("modifiers `{k}` and `{m}` cannot be combined"));
                }
                kind = Some(m);
            }
            other => return Err(format!("modifier `{other}` is not supported")),
        }
    }
    let list: Vec<&Value> = match values {
        Value::Array(items) => items.iter().collect(),
        v => vec![v],
    };
    if list.is_empty() {
        return Err("an empty list of values".to_owned());
    }
    if list.iter().any(|v| v.is_array() || v.is_object()) {
        return Err("a value that is a list or mapping".to_owned());
    }
    let test = if fieldref {
        let kind = match kind {
            None => RefKind::Equals,
            Some("contains") => RefKind::Contains,
            Some("startswith") => RefKind::StartsWith,
            Some("endswith") => RefKind::EndsWith,
            Some(k) => return Err(format!("modifier `{k}` cannot be combined with `fieldref`")),
        };
        let fields = list
            .iter()
            .map(|v| scalar_text(v).ok_or("`fieldref` needs field names"))
            .collect::<Result<Vec<_>, _>>()?;
        Test::FieldRef {
            fields,
            kind,
            fold: !cased,
            all,
        }
    } else if kind == Some("exists") {
        match list.as_slice() {
            [Value::Bool(b)] => Test::Exists(*b),
            [Value::String(s)]
                if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") =>
            {
                Test::Exists(s.eq_ignore_ascii_case("true"))
            }
            _ => return Err("`exists` takes `true` or `false`".to_owned()),
        }
    } else {
        let matchers = list
            .iter()
            .map(|v| compile_value(v, kind, cased, &re_flags))
            .collect::<Result<Vec<_>, _>>()?;
        Test::Values { matchers, all }
    };
    Ok(FieldTest { field, test })
}

fn compile_value(
    v: &Value,
    kind: Option<&str>,
    cased: bool,
    re_flags: &str,
) -> Result<ValueMatcher, String> {
    if v.is_null() {
        return match kind {
            None => Ok(ValueMatcher::Null),
            Some(k) => Err(format!("`null` with modifier `{k}`")),
        };
    }
    let text = scalar_text(v).ok_or("a value that is not a scalar")?;
    let fold = !cased;
    Ok(match kind {
        None => ValueMatcher::Wildcard(Wildcard::new(&text, fold)),
        Some("contains") => ValueMatcher::Wildcard(Wildcard::with_stars(&text, true, true, fold)),
        Some("startswith") => {
            ValueMatcher::Wildcard(Wildcard::with_stars(&text, false, true, fold))
        }
        Some("endswith") => ValueMatcher::Wildcard(Wildcard::with_stars(&text, true, false, fold)),
        Some("re") => {
            let pattern = if re_flags.is_empty() {
                text.clone()
            } else {
                format!("(?{re_flags}){text}")
            };
            let regex = regex_lite::Regex::new(&pattern)
                .map_err(|e| format!("`{pattern}` is not a supported regular expression: {e}"))?;
            // `i` makes the literal case-insensitive: no pre-check then.
            let literal = if re_flags.contains('i') {
                None
            } else {
                matcher::required_literal(&text)
            };
            ValueMatcher::Regex(regex, literal)
        }
        Some("cidr") => ValueMatcher::Cidr(Cidr::parse(&text)?),
        Some(cmp @ ("gt" | "gte" | "lt" | "lte")) => {
            let n: f64 = text
                .trim()
                .parse()
                .map_err(|_| format!("`{cmp}` needs a number, not `{text}`"))?;
            let cmp = match cmp {
                "gt" => Compare::Gt,
                "gte" => Compare::Gte,
                "lt" => Compare::Lt,
                _ => Compare::Lte,
            };
            ValueMatcher::Number(cmp, n)
        }
        Some(other) => return Err(format!("modifier `{other}` is not supported here")),
    })
}
