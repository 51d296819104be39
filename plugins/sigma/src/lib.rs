//! `sigma`: runs Sigma rules on CloudTrail events.
//!
//! The rules come from the plugin config, `{"rules": [{"path": "<file>", "text": "<YAML>"},
//! ...]}` (the host fills it from `config_files = { rules = "<dir or file>" }`; a plain YAML
//! string is accepted as an item too, or `{"path", "docs": [...]}` with the documents already
//! as JSON, and a file may hold several documents). Without a `rules` key the plugin runs
//! the rule set shipped inside the component: SigmaHQ's AWS CloudTrail rules
//! (`rules/sigma/cloudtrail/` at the repository root, Detection Rule License 1.1), converted
//! to JSON at build time by `build.rs`. Configured rules replace the shipped ones.
//!
//! What is supported: field equality on dotted paths into the raw record
//! (`requestParameters.userName`; arrays on the way are searched element by element, and a
//! value matches an array or object when one of its scalars does), value lists, the
//! modifiers `contains`, `startswith`, `endswith`, `all`, `re` (with `i`, `m`, `s`), `cased`,
//! `exists`, `fieldref`, `cidr`, `gt`/`gte`/`lt`/`lte`, wildcards `*`/`?` with Sigma's `\`
//! escapes, `null` (absent or null), and conditions with `and`, `or`, `not`, parentheses,
//! `1 of`/`all of` a pattern or `them` (every search not named `_...`), or a list of
//! conditions (one must hold). Plain strings match case-insensitively, `re` does not. A rule
//! that needs anything else (another modifier, an aggregation, `near`, `timeframe`, keyword
//! searches, a logsource that is not AWS CloudTrail, no `id`, a correlation or collection) is
//! refused: it is listed in the catalog with the reason (`refused`) and never runs.
//!
//! Findings: `rule_id` `sigma.<the Sigma rule's id>`, severity from its `level`, its title,
//! its description plus who did what, the record's resource ARNs (else the principal's),
//! and the rule's metadata in `context`, its author included (the Detection Rule License
//! asks that messages based on matches name the author). No response: the plugin reports.
//!
//! The rules are compiled once per batch (the host instantiates the plugin for each one), so
//! compiling is kept cheap: the shipped rules come as JSON, each compiled on first use (the
//! event sources and names it requires, whether it loads and the fields it reads were worked
//! out by `build.rs` with this same compiler, so a one-event batch compiles the few rules
//! its event can match), and what only findings and the catalog read (description,
//! references, ...) is parsed on first use. Rules are indexed by the `eventSource` and
//! `eventName` their condition requires, so an event is checked only against the rules of
//! its source and name and those that name none, and a regular expression runs only when
//! the text holds the literal every match needs.
//!
//! Subscription: `describe` answers with the config in force, so the plugin subscribes to
//! the union of what its rules can match (each rule's required `eventSource` and
//! `eventName` values, without regard to case), and to every CloudTrail event only when
//! some rule requires neither ([`RuleSet::patterns`]).

pub mod condition;
pub mod matcher;
pub mod rule;
pub mod yaml;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};
use trailwarden_plugin_sdk::json::{resource_arns, ObjectWriter};
use trailwarden_plugin_sdk::{
    capitalize, non_empty, Config, Descriptor, Event, Finding, PluginError, Rule, Severity,
};

use crate::rule::{Detection, Info, Loaded, Meta};

/// The prefix of every rule id: `sigma.<Sigma rule id>`.
pub const RULE_PREFIX: &str = "sigma.";

/// The config key holding the rules.
pub const RULES_KEY: &str = "rules";

/// The catalog id of the config itself when `rules` cannot be read.
pub const CONFIG_RULE_ID: &str = "sigma.config";

/// The shipped rule set, as `build.rs` converted it.
mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// Every CloudTrail event (the detail-types of API calls, console sign-ins, service events
/// and console actions all end in "via CloudTrail"): the subscription when some rule names
/// neither an event source nor an event name ([`RuleSet::patterns`]).
pub const PATTERN: &str = r#"{"detail-type":[{"suffix":"via CloudTrail"}]}"#;

/// The runbook of a rule whose `falsepositives` say nothing usable.
pub const GENERIC_RUNBOOK: &str = "Confirm with the owner of the principal that the call was \
    intended; if not, treat its credentials as compromised and review its other recent \
    CloudTrail activity.";

/// The licence of the shipped rules, named in findings and catalog.
pub const LICENSE: &str = "Detection Rule License 1.1";

/// Name, version, the patterns of the shipped rules and the fixtures.
pub fn descriptor() -> Descriptor {
    descriptor_for(&RuleSet::embedded())
}

/// Name, version, the patterns `set`'s rules can match ([`RuleSet::patterns`]) and the
/// fixtures.
pub fn descriptor_for(set: &RuleSet) -> Descriptor {
    Descriptor {
        name: env!("CARGO_PKG_NAME").to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        patterns: set.patterns(),
        capabilities: Vec::new(),
        fixtures: trailwarden_plugin_sdk::fixtures![
            "console-login-without-mfa.json",
            "disable-logging.json",
            "guardduty-detector.json",
            "imds-credentials.json",
            "not-matching.json",
            "root-account-usage.json",
            "s3-bucket-versioning.json",
        ],
        // It only reports, but trailwarden's own responses (a login profile deleted, a
        // trail restarted) would match some rules: they are not news.
        self_caused_events: false,
    }
}

/// A rule document: whole, or a shipped rule as `build.rs` left it (compiled on first use).
enum Doc {
    Whole(Value),
    Shipped(&'static rule::Shipped),
}

/// One item of the config's `rules`: a name and its documents, or why there are none.
/// Items are `{"path", "text"}` (YAML text, as the host reads `config_files`), a plain YAML
/// string, or `{"path", "docs": [...]}` with the documents already as JSON (no YAML to parse
/// per batch).
fn config_item(i: usize, item: &Value) -> (String, Result<Vec<Value>, String>) {
    let fallback = format!("{RULES_KEY}[{i}]");
    match item {
        Value::String(text) => (fallback, yaml::documents(text)),
        Value::Object(o) => {
            let path = o
                .get("path")
                .and_then(Value::as_str)
                .filter(|p| !p.trim().is_empty())
                .map_or(fallback, str::to_owned);
            let docs = match (o.get("text"), o.get("docs")) {
                (Some(Value::String(text)), _) => yaml::documents(text),
                (_, Some(Value::Array(docs))) => Ok(docs.clone()),
                _ => {
                    Err("the config item has neither `text` (YAML) nor `docs` (a list)".to_owned())
                }
            };
            (path, docs)
        }
        _ => (
            fallback,
            Err("the config item is neither YAML text nor an object".to_owned()),
        ),
    }
}

/// One rule of the set, with the id its findings and catalog entry carry.
#[derive(Debug, Clone)]
pub struct Entry {
    pub rule_id: String,
    pub rule: Loaded,
}

/// The rules of one configuration, loaded and compiled.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    pub entries: Vec<Entry>,
    index: SourceIndex,
    /// The record's top-level fields some loaded rule reads, with [`RECORD_FIELDS_ALWAYS`]:
    /// only these are parsed ([`RuleSet::detect`]). Natively, over the corpus, 8.6 -> 7.8 us
    /// per event; per source it saved no more and cost 100 us a batch to work out.
    record_keys: Vec<String>,
}

/// The loaded rules by the `eventSource` they require ([`Detection::sources`]), so an event
/// is checked against the rules of its source and those that name none, not every rule;
/// then by the `eventName` they require ([`Detection::event_names`]), so a shipped rule is
/// compiled only for an event it may match.
#[derive(Debug, Clone, Default)]
struct SourceIndex {
    /// Lower-cased source -> indexes into `entries` of the loaded rules requiring it.
    by_source: BTreeMap<String, Vec<usize>>,
    /// Loaded rules that require no particular source.
    any_source: Vec<usize>,
    /// Per entry, the lower-cased event names a loaded rule requires, if it requires some.
    event_names: Vec<Option<Vec<String>>>,
}

/// Record fields read whatever the rules test: the `eventSource` pre-check of
/// [`RuleSet::detect_record`] and the resources a finding names.
const RECORD_FIELDS_ALWAYS: &[&str] = &[rule::SOURCE_FIELD, "resources"];

impl SourceIndex {
    fn new(entries: &[Entry]) -> SourceIndex {
        let mut index = SourceIndex::default();
        for (i, entry) in entries.iter().enumerate() {
            index.event_names.push(entry.rule.event_names().flatten());
            let Some(sources) = entry.rule.sources() else {
                continue;
            };
            match sources {
                Some(sources) => {
                    for source in sources {
                        // Most sources are some other rule's too: no copy of those.
                        let rules = match index.by_source.get_mut(&source) {
                            Some(rules) => rules,
                            None => index.by_source.entry(source).or_default(),
                        };
                        if rules.last() != Some(&i) {
                            rules.push(i);
                        }
                    }
                }
                None => index.any_source.push(i),
            }
        }
        index
    }

    /// The loaded rules that may match an event whose `eventSource` is one of `sources`
    /// and whose `eventName` is one of `names` (lower-cased; no names: any), in rule order.
    fn candidates(&self, sources: &[String], names: &[String]) -> Vec<usize> {
        let mut found = self.any_source.clone();
        for source in sources {
            if let Some(rules) = self.by_source.get(source) {
                found.extend(rules);
            }
        }
        found.sort_unstable();
        found.dedup();
        found.retain(|&i| self.name_allows(i, names));
        found
    }

    /// Whether the rule at `index` may match an event named one of `names` (no names: it
    /// may).
    fn name_allows(&self, index: usize, names: &[String]) -> bool {
        match self.event_names.get(index) {
            Some(Some(required)) if !names.is_empty() => {
                required.iter().any(|name| names.contains(name))
            }
            _ => true,
        }
    }
}

impl RuleSet {
    /// The rule set of `config`: its `rules`, else the shipped ones.
    ///
    /// # Errors
    /// [`PluginError::BadInput`] when `rules` is given but is not a list.
    pub fn from_config(config: &Config) -> Result<RuleSet, PluginError> {
        match config.get(RULES_KEY) {
            None => Ok(RuleSet::embedded()),
            Some(Value::Array(items)) => Ok(RuleSet::from_files(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| config_item(i, item)),
            )),
            Some(_) => Err(PluginError::BadInput(format!(
                "config `{RULES_KEY}` must be a list of {{\"path\", \"text\"}} objects (or YAML \
                 texts, or {{\"path\", \"docs\"}}); leave it out for the shipped rules"
            ))),
        }
    }

    /// The shipped rules (`rules/sigma/cloudtrail/*.yml`, embedded at build time).
    pub fn embedded() -> RuleSet {
        RuleSet::from_docs(embedded::FILES.iter().map(|(path, docs)| {
            let docs = match docs {
                Ok(docs) => Ok(docs.iter().map(Doc::Shipped).collect()),
                Err(e) => Err((*e).to_owned()),
            };
            ((*path).to_owned(), docs)
        }))
    }

    /// Rule files by path and YAML text.
    pub fn from_texts<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> RuleSet {
        RuleSet::from_files(
            files
                .into_iter()
                .map(|(path, text)| (path.to_owned(), yaml::documents(text))),
        )
    }

    /// Rule files by path and documents (or why they could not be read). Every document
    /// becomes an entry, refused or not; an unreadable file one refused entry.
    pub fn from_files(
        files: impl IntoIterator<Item = (String, Result<Vec<Value>, String>)>,
    ) -> RuleSet {
        RuleSet::from_docs(
            files
                .into_iter()
                .map(|(path, docs)| (path, docs.map(|d| d.into_iter().map(Doc::Whole).collect()))),
        )
    }

    fn from_docs(files: impl IntoIterator<Item = (String, Result<Vec<Doc>, String>)>) -> RuleSet {
        let files = files.into_iter();
        // An entry is large (a rule with its detection inline): grown one push at a time,
        // the vector was copied over about a dozen times per rule set.
        let mut entries: Vec<Entry> = Vec::with_capacity(files.size_hint().0);
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        for (path, docs) in files {
            let docs = match docs {
                Ok(docs) if docs.is_empty() => Err("the file holds no YAML document".to_owned()),
                other => other,
            };
            let docs = match docs {
                Ok(docs) => docs,
                Err(reason) => {
                    entries.push(Entry {
                        rule_id: format!("{RULE_PREFIX}unreadable.{path}"),
                        rule: Loaded::new(
                            Meta {
                                title: path.clone(),
                                source: path.clone(),
                                ..Meta::default()
                            },
                            Err(reason),
                        ),
                    });
                    continue;
                }
            };
            let several = docs.len() > 1;
            for (i, doc) in docs.iter().enumerate() {
                let source = if several {
                    format!("{path}#{}", i + 1)
                } else {
                    path.clone()
                };
                let mut rule = match doc {
                    Doc::Whole(doc) => rule::load(doc, &source),
                    Doc::Shipped(shipped) => rule::load_shipped(shipped, &source),
                };
                let rule_id = if rule.meta.id.is_empty() {
                    format!("{RULE_PREFIX}unidentified.{source}")
                } else if let Some(first) = seen.get(&rule.meta.id) {
                    if rule.loads() {
                        rule.refuse(format!("its id is already used by {first}"));
                    }
                    format!("{RULE_PREFIX}{}.duplicate.{source}", rule.meta.id)
                } else {
                    seen.insert(rule.meta.id.clone(), source.clone());
                    [RULE_PREFIX, rule.meta.id.as_str()].concat()
                };
                entries.push(Entry { rule_id, rule });
            }
        }
        let index = SourceIndex::new(&entries);
        let mut keys: BTreeSet<String> =
            RECORD_FIELDS_ALWAYS.iter().map(|k| k.to_string()).collect();
        for entry in &entries {
            entry.rule.record_keys(&mut keys);
        }
        RuleSet {
            entries,
            index,
            record_keys: keys.into_iter().collect(),
        }
    }

    /// The EventBridge patterns of the events some loaded rule can match: per rule, what
    /// its condition requires of [`rule::SUBSCRIPTION_FIELDS`] ([`rule::required_matchers`]:
    /// plain values compared without regard to case, as Sigma compares them), all of it;
    /// [`PATTERN`] (every CloudTrail event) as soon as one rule requires none of them. No
    /// loaded rule: no pattern, the plugin gets nothing.
    pub fn patterns(&self) -> Vec<String> {
        let mut patterns: Vec<String> = Vec::new();
        for (_, detection) in self.loaded() {
            let mut detail = serde_json::Map::new();
            let mut never = false;
            for field in rule::SUBSCRIPTION_FIELDS {
                let Some(matchers) =
                    rule::required_matchers(&detection.condition, &detection.searches, field)
                else {
                    continue;
                };
                // A rule that requires a value among none can never match.
                never |= matchers.is_empty();
                let (parent, leaf) = match field.split_once('.') {
                    Some((parent, leaf)) => (Some(parent), leaf),
                    None => (None, *field),
                };
                let slot = match parent {
                    Some(parent) => detail
                        .entry(parent.to_owned())
                        .or_insert_with(|| Value::Object(serde_json::Map::new()))
                        .as_object_mut()
                        .expect("an object"),
                    None => &mut detail,
                };
                slot.insert(leaf.to_owned(), Value::Array(matchers));
            }
            if never {
                continue;
            }
            if detail.is_empty() {
                return vec![PATTERN.to_owned()];
            }
            let pattern = json!({
                "detail-type": [{"suffix": "via CloudTrail"}],
                "detail": detail,
            })
            .to_string();
            if !patterns.contains(&pattern) {
                patterns.push(pattern);
            }
        }
        patterns.sort();
        patterns
    }

    /// The rules that run, with their detection.
    pub fn loaded(&self) -> impl Iterator<Item = (&Entry, &Detection)> {
        self.entries
            .iter()
            .filter_map(|e| e.rule.detection().as_ref().ok().map(|d| (e, d)))
    }

    /// The refused rules, with the reason.
    pub fn refused(&self) -> impl Iterator<Item = (&Entry, &str)> {
        self.entries
            .iter()
            .filter_map(|e| e.rule.detection().as_ref().err().map(|r| (e, r.as_str())))
    }

    /// The findings for one event: one per rule that matches its record (none when `raw`
    /// is not a JSON object).
    pub fn detect(&self, event: &Event) -> Vec<Finding> {
        // Most events can be ruled out on the fields already parsed, before parsing the
        // record, which is most of the cost.
        if !self.may_match(event) {
            return Vec::new();
        }
        // Only the fields the rules read are built; the rest of the record is checked and
        // skipped.
        let Some(record) =
            trailwarden_plugin_sdk::json::record_fields(&event.raw, &self.record_keys)
        else {
            return Vec::new();
        };
        self.detect_record(event, &record)
    }

    /// Whether some loaded rule's required tests on the parsed fields ([`rule::HOT_FIELDS`])
    /// hold for `event`; a field the event lacks (or did not have as text) is not held
    /// against a rule, since its record may still carry a value the test accepts.
    pub fn may_match(&self, event: &Event) -> bool {
        let hot = hot_record(event);
        let known = |field: &str| hot_field_known(&hot, field);
        let holds = |(_, d): (&Entry, &Detection)| d.hot.holds(&hot, &known);
        let names: Vec<String> = event.name.iter().map(|n| n.to_lowercase()).collect();
        match &event.source {
            Some(source) => self
                .index
                .candidates(&[source.to_lowercase()], &names)
                .into_iter()
                .filter_map(|i| self.loaded_at(i))
                .any(holds),
            None => (0..self.entries.len())
                .filter(|&i| self.index.name_allows(i, &names))
                .filter_map(|i| self.loaded_at(i))
                .any(holds),
        }
    }

    /// The loaded rule at `index` of `entries`, with its detection.
    fn loaded_at(&self, index: usize) -> Option<(&Entry, &Detection)> {
        let entry = self.entries.get(index)?;
        entry.rule.detection().as_ref().ok().map(|d| (entry, d))
    }

    /// [`RuleSet::detect`] with the record already parsed.
    pub fn detect_record(&self, event: &Event, record: &Value) -> Vec<Finding> {
        self.run(event, record, true)
    }

    /// [`RuleSet::detect_record`] without the quick `eventSource` pre-check: every rule's
    /// condition is evaluated (the tests check that both agree).
    pub fn detect_record_exhaustive(&self, event: &Event, record: &Value) -> Vec<Finding> {
        self.run(event, record, false)
    }

    fn run(&self, event: &Event, record: &Value, precheck: bool) -> Vec<Finding> {
        // The event source and name, folded as the rules' plain values are, for the quick
        // pre-check of rules that name theirs (`Detection::sources`, `event_names`).
        let folded = |field: &str| {
            let mut found = Vec::new();
            if precheck {
                matcher::resolve(record, field, &mut found);
            }
            let mut texts: Vec<String> = Vec::new();
            for v in found {
                matcher::any_scalar(v, &mut |t| {
                    texts.push(t.to_lowercase());
                    false
                });
            }
            texts
        };
        let (sources, names) = (folded(rule::SOURCE_FIELD), folded(rule::NAME_FIELD));
        let check = |(entry, d): (&Entry, &Detection)| {
            d.matches(record).then(|| finding(entry, d, event, record))
        };
        if precheck {
            // Only the rules of the record's source and name and those that name none.
            self.index
                .candidates(&sources, &names)
                .into_iter()
                .filter_map(|i| self.loaded_at(i))
                .filter_map(check)
                .collect()
        } else {
            self.loaded().filter_map(check).collect()
        }
    }

    /// The catalog: one rule per entry, refused ones with their reason.
    pub fn catalog(&self) -> Vec<Rule> {
        self.entries.iter().map(catalog_rule).collect()
    }
}

fn catalog_rule(entry: &Entry) -> Rule {
    let meta = &entry.rule.meta;
    let info = meta.info.get();
    let title = non_empty(Some(&meta.title)).unwrap_or(&meta.source);
    let description = match non_empty(Some(&info.description)) {
        Some(d) => d.to_owned(),
        None => format!("Sigma rule {title} ({}).", meta.source),
    };
    let author = match non_empty(Some(&info.author)) {
        Some(a) => format!(" Sigma rule by {a}, {LICENSE}."),
        None => String::new(),
    };
    Rule {
        id: entry.rule_id.clone(),
        title: title.to_owned(),
        severity: meta.severity().unwrap_or(Severity::Medium),
        techniques: info.techniques.clone(),
        description: format!("{description}{author}"),
        runbook: runbook(info),
        response: Vec::new(),
        refused: entry.rule.detection().as_ref().err().cloned(),
    }
}

/// The first thing to check: the rule's own false positives, else [`GENERIC_RUNBOOK`].
pub fn runbook(info: &Info) -> String {
    let known: Vec<&str> = info
        .falsepositives
        .iter()
        .map(|f| f.trim().trim_end_matches('.'))
        .filter(|f| {
            !matches!(
                f.to_ascii_lowercase().as_str(),
                "" | "unknown" | "unlikely" | "none" | "n/a" | "none known"
            )
        })
        .collect();
    if known.is_empty() {
        return GENERIC_RUNBOOK.to_owned();
    }
    format!(
        "Rule out the known false positive{}: {}. Otherwise: {}",
        if known.len() == 1 { "" } else { "s" },
        known.join("; "),
        GENERIC_RUNBOOK
    )
}

fn finding(entry: &Entry, detection: &Detection, event: &Event, record: &Value) -> Finding {
    let meta = &entry.rule.meta;
    let account = event.account_or_unknown();
    let region = non_empty(event.region.as_deref()).unwrap_or("an unknown region");
    let name = non_empty(event.name.as_deref()).unwrap_or("an unnamed action");
    let action = match event.service() {
        Some(service) => format!("{service}:{name}"),
        None => name.to_owned(),
    };
    let outcome = match non_empty(event.error_code.as_deref()) {
        Some(code) => format!(" (failed: {code})"),
        None => String::new(),
    };
    let info = meta.info.get();
    let author = non_empty(Some(&info.author)).unwrap_or("an unnamed author");
    let mut description = String::new();
    if !info.description.is_empty() {
        description.push_str(&info.description);
        description.push(' ');
    }
    description.push_str(&format!(
        "Matched: {} called {action}{outcome} in account {account} ({region}) {}. Sigma rule {} \
         by {author} ({LICENSE}).",
        capitalize(&event.actor()),
        event.origin(),
        meta.id,
    ));

    let mut resources = resource_arns(record);
    if resources.is_empty() {
        resources.extend(non_empty(event.principal.arn.as_deref()).map(str::to_owned));
    }
    let who = non_empty(event.principal.arn.as_deref())
        .or(non_empty(event.principal.user_name.as_deref()))
        .or(non_empty(event.source_ip.as_deref()))
        .unwrap_or("unknown");
    let matched: Vec<&String> = detection
        .names
        .iter()
        .zip(&detection.searches)
        .filter(|(_, s)| s.matches(record))
        .map(|(n, _)| n)
        .collect();
    // Written straight into its text: most of the cost of a finding was building this
    // object (the rule's tags and references copied) only to serialise it.
    let context = ObjectWriter::new()
        .field("sigma_id", &meta.id)
        .field("title", &meta.title)
        .field("level", &meta.level)
        .field("status", &meta.status)
        .field("tags", &info.tags)
        .field("author", &info.author)
        .field("references", &info.references)
        .field("license", LICENSE)
        .field("rule_file", &meta.source)
        .field("matched_searches", &matched)
        .field("event_source", &event.source)
        .field("event_name", &event.name)
        .field("account", account)
        .field("region", &event.region)
        .field("source_ip", &event.source_ip)
        .field("user_agent", &event.user_agent)
        .field("error_code", &event.error_code)
        .finish();
    Finding {
        rule_id: entry.rule_id.clone(),
        severity: meta.severity().unwrap_or(Severity::Medium),
        title: meta.title.clone(),
        description,
        resources,
        dedup_key: format!("{}:{account}:{who}", entry.rule_id),
        event_id: event.id.clone(),
        context,
    }
}

/// The fields of [`rule::HOT_FIELDS`] the event has, as a record of their own.
fn hot_record(event: &Event) -> Value {
    let mut record = serde_json::Map::new();
    let mut identity = serde_json::Map::new();
    let p = &event.principal;
    for (key, value) in [
        ("eventSource", &event.source),
        ("eventName", &event.name),
        ("eventType", &event.event_type),
        ("awsRegion", &event.region),
        ("userAgent", &event.user_agent),
        ("sourceIPAddress", &event.source_ip),
        ("errorCode", &event.error_code),
        ("errorMessage", &event.error_message),
    ] {
        if let Some(v) = value {
            record.insert(key.to_owned(), Value::String(v.clone()));
        }
    }
    for (key, value) in [
        ("type", &p.r#type),
        ("arn", &p.arn),
        ("accessKeyId", &p.access_key_id),
        ("invokedBy", &p.invoked_by),
    ] {
        if let Some(v) = value {
            identity.insert(key.to_owned(), Value::String(v.clone()));
        }
    }
    if !identity.is_empty() {
        record.insert("userIdentity".to_owned(), Value::Object(identity));
    }
    Value::Object(record)
}

fn hot_field_known(hot: &Value, field: &str) -> bool {
    field
        .split('.')
        .try_fold(hot, |v, key| v.get(key))
        .is_some()
}

/// [`descriptor`] for the config in force: subscribes to the union of what the configured
/// (or shipped) rules can match; a config whose `rules` cannot be read subscribes to every
/// CloudTrail event, so the error surfaces in `handle` (as a failed batch) rather than in
/// silence.
pub fn describe_with_config(config: &Config) -> Descriptor {
    match RuleSet::from_config(config) {
        Ok(set) => descriptor_for(&set),
        Err(_) => Descriptor {
            patterns: vec![PATTERN.to_owned()],
            ..descriptor_for(&RuleSet::default())
        },
    }
}

/// The catalog of the configured (or shipped) rules; a config whose `rules` cannot be read
/// is one refused entry, [`CONFIG_RULE_ID`], that says why.
pub fn rules(config: &Config) -> Vec<Rule> {
    match RuleSet::from_config(config) {
        Ok(set) => set.catalog(),
        Err(e) => vec![Rule {
            id: CONFIG_RULE_ID.to_owned(),
            title: "Sigma rules from the plugin config".to_owned(),
            severity: Severity::Medium,
            techniques: Vec::new(),
            description: "The Sigma rules named in the plugin config.".to_owned(),
            runbook: GENERIC_RUNBOOK.to_owned(),
            response: Vec::new(),
            refused: Some(e.to_string()),
        }],
    }
}

trailwarden_plugin_sdk::export_responder!(
    /// The plugin: the configured (or shipped) Sigma rules, compiled once per batch (a config
    /// whose rules cannot be read fails the batch), over each event; no response, and no
    /// state: each event is judged alone, so the host may run its batches side by side.
    Sigma {
        capabilities: &[],
        state: false,
        describe: descriptor,
        describe_with_config: describe_with_config,
        rules: rules,
        try_settings: RuleSet::from_config,
        detect_with: |event, batch| batch.settings.detect(event),
    }
);
