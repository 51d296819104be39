//! `trailwarden search` and `trailwarden summary`: ad hoc questions over CloudTrail log
//! files, folders, stdin or S3, answered with the event-pattern language.
//!
//! Inputs are expanded as replay expands them ([`crate::replay::expand_all`]), then read,
//! normalised and matched on `threads` threads, one input at a time per thread, so memory
//! holds at most `threads` inputs (each bounded by the intake limits) plus the aggregates.
//! Each thread keeps its own partial result ([`Tally`] for search, [`summary::Summary`]);
//! they are merged at the end. Bad input is accounted as replay does: unreadable inputs are
//! named and skipped, skipped and rejected records counted by reason.

pub mod command;
pub mod fields;
pub mod output;
pub mod prefilter;
pub mod summary;

use std::collections::{BTreeMap, HashMap};
use std::io::{IsTerminal, Read, Write};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, UNIX_EPOCH};

use anyhow::{Context, Result};
use cloudtrail_normalize::{
    decompressed, normalize_bytes, normalize_bytes_with_hint, normalize_decompressed, Item,
    NormalizedEvent, Options, DIGEST_NAME_MARK,
};
use event_pattern::{Pattern, PatternSet};
use indicatif::{ProgressBar, ProgressStyle};

use crate::replay::{Input, S3Reader};
use fields::FieldPath;

/// Most distinct groups (`--group-by`, summary tables) kept; events of further groups are
/// counted under [`OTHER_GROUP`], so memory stays bounded whatever the cardinality.
pub const MAX_GROUPS: usize = 1_000_000;

/// The group key that collects events past [`MAX_GROUPS`].
pub const OTHER_GROUP: &str = "(other groups)";

/// Most unreadable inputs named one by one (the rest are counted).
const MAX_NAMED_FAILURES: usize = 50;

/// Most rejected records named one by one (all are counted by reason).
const MAX_NAMED_REJECTS: usize = 5;

/// Which events a search keeps.
pub struct Filter {
    /// Alternatives (`--pattern`, repeatable): an event must match one, if any are given.
    any_of: PatternSet,
    any_count: usize,
    /// `--where` conditions, as one pattern: an event must match it, if given.
    all_of: Option<PatternSet>,
    account: Option<String>,
    region: Option<String>,
    /// Event time bounds as RFC 3339 text in CloudTrail's own form
    /// (`YYYY-MM-DDTHH:MM:SSZ`), which orders as text: since inclusive, until exclusive.
    since: Option<String>,
    until: Option<String>,
    /// Texts one of which every kept record contains, when the patterns require some.
    literals: Option<prefilter::Literals>,
}

impl Filter {
    /// A filter from the command line's pieces.
    ///
    /// # Errors
    /// A pattern or `--where` condition is invalid, or a time bound is not a date or time.
    pub fn new(
        patterns: &[String],
        conditions: &[String],
        account: Option<String>,
        region: Option<String>,
        since: Option<&str>,
        until: Option<&str>,
    ) -> Result<Filter> {
        let mut any_of = PatternSet::new();
        let mut alternatives = Vec::new();
        for (id, text) in patterns.iter().enumerate() {
            let pattern =
                Pattern::parse(text).map_err(|e| anyhow::anyhow!("--pattern {text}: {e}"))?;
            any_of.add(id as u32, &pattern);
            alternatives.push(pattern);
        }
        let conjunction = if conditions.is_empty() {
            None
        } else {
            let text = fields::where_pattern(conditions)?;
            Some(Pattern::parse(&text).map_err(|e| anyhow::anyhow!("--where: {e}"))?)
        };
        let literals = prefilter::Literals::of(conjunction.as_ref(), &alternatives);
        let all_of = conjunction.map(|pattern| {
            let mut set = PatternSet::new();
            set.add(0, &pattern);
            set
        });
        Ok(Filter {
            literals,
            any_of,
            any_count: patterns.len(),
            all_of,
            account,
            region,
            since: since
                .map(|t| time_bound(t, false))
                .transpose()
                .context("--since")?,
            until: until
                .map(|t| time_bound(t, true))
                .transpose()
                .context("--until")?,
        })
    }

    /// Reads records from parsing; see [`prefilter`]: only records that may be kept are
    /// parsed. The search's answers are the same with it as without.
    pub fn without_prefilter(mut self) -> Filter {
        self.literals = None;
        self
    }

    /// Whether `event` is kept. Cheap tests first; patterns matched on the envelope view.
    pub fn keeps(&self, event: &NormalizedEvent) -> bool {
        if self.account.is_some() && event.account != self.account {
            return false;
        }
        if self.region.is_some() && event.region != self.region {
            return false;
        }
        if self.since.is_some() || self.until.is_some() {
            let Some(time) = event.time.as_deref().and_then(comparable_time) else {
                return false;
            };
            let time = time.as_ref();
            if self.since.as_deref().is_some_and(|since| time < since)
                || self.until.as_deref().is_some_and(|until| time >= until)
            {
                return false;
            }
        }
        if let Some(all_of) = &self.all_of {
            if event
                .with_envelope_fields(|f| all_of.matching_ids_in_fields(f))
                .is_empty()
            {
                return false;
            }
        }
        self.any_count == 0
            || !event
                .with_envelope_fields(|f| self.any_of.matching_ids_in_fields(f))
                .is_empty()
    }
}

/// An event time that orders as text against the bounds: CloudTrail's own
/// `YYYY-MM-DDTHH:MM:SS[.fff]Z` as is, another RFC 3339 form (an offset) converted, anything
/// else `None` (such an event is outside every time range).
fn comparable_time(time: &str) -> Option<std::borrow::Cow<'_, str>> {
    let b = time.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let canonical = b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[b.len() - 1] == b'Z';
    if canonical {
        return Some(std::borrow::Cow::Borrowed(time));
    }
    let at = parse_time(time)?;
    Some(std::borrow::Cow::Owned(
        humantime::format_rfc3339_seconds(at).to_string(),
    ))
}

/// An RFC 3339 time, `Z` or with an offset (`+02:00`), as an instant.
fn parse_time(text: &str) -> Option<std::time::SystemTime> {
    if let Ok(at) = humantime::parse_rfc3339_weak(text) {
        return Some(at);
    }
    // humantime reads only UTC: take an offset off and apply it.
    let split = text.len().checked_sub(6)?;
    let (base, offset) = (text.get(..split)?, text.get(split..)?);
    let sign = match offset.as_bytes()[0] {
        b'+' => 1i64,
        b'-' => -1,
        _ => return None,
    };
    let hours: u64 = offset.get(1..3)?.parse().ok()?;
    let minutes: u64 = offset.get(4..6)?.parse().ok()?;
    let at = humantime::parse_rfc3339_weak(&format!("{base}Z")).ok()?;
    let shift = Duration::from_secs(hours * 3600 + minutes * 60);
    // Local time + offset = UTC + 2h means UTC = local - offset.
    if sign > 0 {
        at.checked_sub(shift)
    } else {
        at.checked_add(shift)
    }
}

/// `2024-05-01` or an RFC 3339 time as `YYYY-MM-DDTHH:MM:SSZ`. An upper bound is exclusive:
/// a date means the end of that day, a time the end of that second.
fn time_bound(text: &str, upper: bool) -> Result<String> {
    let date_only = text.len() == 10;
    let full = if date_only {
        format!("{text}T00:00:00Z")
    } else {
        text.to_string()
    };
    let mut at = humantime::parse_rfc3339_weak(&full)
        .with_context(|| format!("{text:?}: expected a date (2024-05-01) or an RFC 3339 time"))?;
    if upper {
        at += if date_only {
            Duration::from_secs(86_400)
        } else {
            Duration::from_secs(1)
        };
    }
    Ok(humantime::format_rfc3339_seconds(at).to_string())
}

/// The start of the `interval` an RFC 3339 event time falls in, as RFC 3339 text.
pub fn interval_start(time: Option<&str>, interval: Duration) -> Option<String> {
    let at = parse_time(time?)?;
    let secs = at.duration_since(UNIX_EPOCH).ok()?.as_secs();
    let step = interval.as_secs().max(1);
    let start = UNIX_EPOCH + Duration::from_secs(secs - secs % step);
    Some(humantime::format_rfc3339_seconds(start).to_string())
}

/// What is done with the events kept.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Print each (its fields, or the whole record).
    Rows {
        fields: Option<Vec<FieldPath>>,
        format: output::RowFormat,
    },
    /// Only how many.
    Count,
    /// Counts per distinct value of these fields.
    GroupBy(Vec<FieldPath>),
    /// Counts per interval of event time.
    Timeline(Duration),
}

/// Event counts per key, bounded to [`MAX_GROUPS`] keys.
#[derive(Debug, Default, Clone)]
pub struct Groups {
    pub counts: HashMap<Vec<String>, u64>,
}

impl Groups {
    pub fn add(&mut self, key: Vec<String>, n: u64) {
        if let Some(count) = self.counts.get_mut(&key) {
            *count += n;
        } else if self.counts.len() < MAX_GROUPS {
            self.counts.insert(key, n);
        } else {
            let width = key.len().max(1);
            let mut other = vec![OTHER_GROUP.to_string()];
            other.resize(width, String::new());
            *self.counts.entry(other).or_insert(0) += n;
        }
    }

    pub fn merge(&mut self, other: Groups) {
        for (key, n) in other.counts {
            self.add(key, n);
        }
    }

    /// The `top` largest, most first, ties by key; all when `top` is `None`.
    pub fn top(&self, top: Option<usize>) -> Vec<(Vec<String>, u64)> {
        let mut rows: Vec<(Vec<String>, u64)> =
            self.counts.iter().map(|(k, n)| (k.clone(), *n)).collect();
        rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        rows.truncate(top.unwrap_or(usize::MAX));
        rows
    }

    /// Sorted by key (for timelines), every one.
    pub fn by_key(&self) -> Vec<(Vec<String>, u64)> {
        let mut rows: Vec<(Vec<String>, u64)> =
            self.counts.iter().map(|(k, n)| (k.clone(), *n)).collect();
        rows.sort();
        rows
    }
}

/// How every input item was accounted for.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Accounting {
    pub inputs_read: u64,
    pub bytes_read: u64,
    /// Items found: `events + skipped + rejected`.
    pub items: u64,
    pub events: u64,
    /// Records of CloudTrail log files that contain none of the texts the search requires,
    /// counted as events without being parsed (the literal pre-check).
    pub ruled_out: u64,
    pub skipped: BTreeMap<String, u64>,
    pub rejected: BTreeMap<String, u64>,
    /// Inputs that could not be read, each with why (the first [`MAX_NAMED_FAILURES`]).
    pub unreadable: Vec<String>,
    pub unreadable_count: u64,
    /// A few rejected records, named: input and detail (line number for JSON lines).
    pub rejected_examples: Vec<String>,
}

impl Accounting {
    fn merge(&mut self, other: Accounting) {
        self.inputs_read += other.inputs_read;
        self.bytes_read += other.bytes_read;
        self.items += other.items;
        self.events += other.events;
        self.ruled_out += other.ruled_out;
        for (k, v) in other.skipped {
            *self.skipped.entry(k).or_insert(0) += v;
        }
        for (k, v) in other.rejected {
            *self.rejected.entry(k).or_insert(0) += v;
        }
        self.unreadable_count += other.unreadable_count;
        for name in other.unreadable {
            if self.unreadable.len() < MAX_NAMED_FAILURES {
                self.unreadable.push(name);
            }
        }
        for name in other.rejected_examples {
            if self.rejected_examples.len() < MAX_NAMED_REJECTS {
                self.rejected_examples.push(name);
            }
        }
    }

    /// Counts an item that is not an event (and names a few rejects).
    fn not_an_event(&mut self, origin: &str, item: &Item) {
        match item {
            Item::Event(_) => {}
            Item::Skipped { reason, .. } => {
                *self.skipped.entry(reason.as_str().to_string()).or_insert(0) += 1;
            }
            Item::Rejected { reason, detail, .. } => {
                *self
                    .rejected
                    .entry(reason.as_str().to_string())
                    .or_insert(0) += 1;
                if self.rejected_examples.len() < MAX_NAMED_REJECTS {
                    self.rejected_examples
                        .push(format!("{origin}: {}: {detail}", reason.as_str()));
                }
            }
        }
    }

    /// Everything on stderr: inputs, events, skips and rejects by reason, what was unreadable.
    ///
    /// # Errors
    /// The writer fails.
    pub fn write(&self, out: &mut dyn Write, kept: u64, elapsed: Duration) -> std::io::Result<()> {
        let secs = elapsed.as_secs_f64().max(1e-9);
        writeln!(
            out,
            "searched {} inputs ({:.1} MB) in {:.2}s: {} events, {} matched ({:.0} events/s)",
            self.inputs_read,
            self.bytes_read as f64 / 1e6,
            secs,
            self.events,
            kept,
            self.events as f64 / secs
        )?;
        if self.ruled_out > 0 {
            writeln!(
                out,
                "  {} of them ruled out unparsed: their text holds none of the values the search requires",
                self.ruled_out
            )?;
        }
        for (reason, n) in &self.skipped {
            writeln!(out, "  skipped  {reason:<22} {n}")?;
        }
        for (reason, n) in &self.rejected {
            writeln!(out, "  rejected {reason:<22} {n}")?;
        }
        for example in &self.rejected_examples {
            writeln!(out, "  rejected: {example}")?;
        }
        if self.unreadable_count > 0 {
            writeln!(
                out,
                "  unreadable inputs {} (skipped):",
                self.unreadable_count
            )?;
            for name in &self.unreadable {
                writeln!(out, "    {name}")?;
            }
        }
        Ok(())
    }
}

/// Where inputs come from and how hard to read them.
pub struct Reading<'a> {
    pub inputs: &'a [Input],
    pub s3: Option<&'a S3Reader>,
    pub limits: Options,
    /// Threads reading inputs (at least 1).
    pub threads: usize,
}

/// Per-thread work over one input's events. `merge` combines two threads' results.
pub trait Visitor: Send {
    /// Called once per input with its kept events, in input order.
    fn visit(&mut self, origin: &str, events: &mut dyn Iterator<Item = &NormalizedEvent>);
    fn merge(&mut self, other: Self)
    where
        Self: Sized;
    /// Nothing more is wanted (the output was closed): the thread takes no further input.
    fn stopped(&self) -> bool {
        false
    }
}

/// Reads every input on `reading.threads` threads, each with its own visitor from `make`,
/// and returns the merged visitor and the accounting.
///
/// # Errors
/// None for bad or unreadable input (counted); only a thread panicking.
pub fn scan<V: Visitor>(
    reading: &Reading<'_>,
    filter: &Filter,
    make: impl Fn() -> V + Sync,
) -> Result<(V, Accounting)> {
    let next = AtomicUsize::new(0);
    let progress = Progress::new(reading.inputs);
    let threads = reading.threads.clamp(1, reading.inputs.len().max(1));
    let results: Vec<(V, Accounting)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut visitor = make();
                    let mut accounting = Accounting::default();
                    while !visitor.stopped() {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(input) = reading.inputs.get(index) else {
                            break;
                        };
                        let origin = input.origin();
                        let bytes = match read_input(input, reading.s3) {
                            Ok(bytes) => bytes,
                            Err(e) => {
                                accounting.unreadable_count += 1;
                                if accounting.unreadable.len() < MAX_NAMED_FAILURES {
                                    accounting.unreadable.push(format!("{e:#}"));
                                }
                                continue;
                            }
                        };
                        let hint = match input {
                            Input::S3(url) => Some(url.key.as_str()),
                            _ => None,
                        };
                        let (items, ruled_out) =
                            read_items(&bytes, &reading.limits, hint, filter.literals.as_ref());
                        accounting.inputs_read += 1;
                        accounting.bytes_read += bytes.len() as u64;
                        drop(bytes);
                        accounting.items += items.len() as u64 + ruled_out;
                        accounting.ruled_out += ruled_out;
                        let mut events = ruled_out;
                        for item in &items {
                            if item.as_event().is_some() {
                                events += 1;
                            } else {
                                accounting.not_an_event(&origin, item);
                            }
                        }
                        accounting.events += events;
                        let mut kept = items
                            .iter()
                            .filter_map(Item::as_event)
                            .filter(|event| filter.keeps(event));
                        visitor.visit(&origin, &mut kept);
                        progress.add(input, events);
                    }
                    (visitor, accounting)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| anyhow::anyhow!("a search thread panicked"))
            })
            .collect::<Result<Vec<_>>>()
    })?;
    progress.finish();
    let mut merged: Option<(V, Accounting)> = None;
    for (visitor, accounting) in results {
        match merged.as_mut() {
            None => merged = Some((visitor, accounting)),
            Some((v, a)) => {
                v.merge(visitor);
                a.merge(accounting);
            }
        }
    }
    Ok(merged.unwrap_or_else(|| (make(), Accounting::default())))
}

/// An input's items, and how many records the literal pre-check ruled out unparsed (those
/// are records of a CloudTrail log file, counted as events).
fn read_items(
    bytes: &[u8],
    limits: &Options,
    hint: Option<&str>,
    literals: Option<&prefilter::Literals>,
) -> (Vec<Item>, u64) {
    let digest = hint.is_some_and(|name| name.contains(DIGEST_NAME_MARK));
    let (Some(literals), false) = (literals, digest) else {
        return (normalize_bytes_with_hint(bytes, limits, hint), 0);
    };
    // Over a cap or corrupt: the normaliser's reject says why.
    let Some(text) = decompressed(bytes, limits) else {
        return (normalize_bytes(bytes, limits), 0);
    };
    // Only a valid document: the normaliser rejects an invalid one whole, and the pre-check
    // must not answer otherwise (validating is far cheaper than parsing).
    let valid = || serde_json::from_slice::<serde::de::IgnoredAny>(&text).is_ok();
    let records = prefilter::log_file_records(&text)
        .filter(|records| records.len() <= limits.max_items && valid());
    let Some(records) = records else {
        return (normalize_decompressed(&text, limits), 0);
    };
    let mut items = Vec::new();
    let mut ruled_out = 0;
    for record in records {
        if literals.may_hold(record) {
            items.extend(normalize_decompressed(record, limits));
        } else {
            ruled_out += 1;
        }
    }
    (items, ruled_out)
}

fn read_input(input: &Input, s3: Option<&S3Reader>) -> Result<Vec<u8>> {
    match input {
        Input::S3(url) => s3.context("s3:// inputs need AWS access")?.read(url),
        Input::Stdin => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .context("cannot read stdin")?;
            Ok(bytes)
        }
        Input::File(path) => {
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
        }
    }
}

/// A progress bar on a terminal (bytes and events per second), hidden otherwise.
struct Progress {
    bar: ProgressBar,
    events: AtomicU64,
    started: Instant,
}

impl Progress {
    fn new(inputs: &[Input]) -> Progress {
        let total: u64 = inputs
            .iter()
            .filter_map(|i| match i {
                Input::File(p) => std::fs::metadata(p).ok().map(|m| m.len()),
                Input::Stdin | Input::S3(_) => None,
            })
            .sum();
        let bar = if std::io::stderr().is_terminal() && inputs.len() > 1 {
            let bar = ProgressBar::new(total);
            if let Ok(style) = ProgressStyle::with_template(
                "{bar:30} {bytes}/{total_bytes} {bytes_per_sec} {msg} eta {eta}",
            ) {
                bar.set_style(style);
            }
            bar
        } else {
            ProgressBar::hidden()
        };
        Progress {
            bar,
            events: AtomicU64::new(0),
            started: Instant::now(),
        }
    }

    fn add(&self, input: &Input, events: u64) {
        if self.bar.is_hidden() {
            return;
        }
        if let Input::File(p) = input {
            self.bar
                .inc(std::fs::metadata(p).map(|m| m.len()).unwrap_or(0));
        }
        let events = self.events.fetch_add(events, Ordering::Relaxed) + events;
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        self.bar
            .set_message(format!("{:.0} events/s", events as f64 / secs));
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// A search's own visitor: rows written as found, or counts.
pub struct Tally<'w> {
    mode: &'w Mode,
    /// Where rows go; each input's rows are written at once under the lock.
    out: &'w Mutex<Box<dyn Write + Send>>,
    pub kept: u64,
    pub groups: Groups,
    /// A write to the output failed (e.g. a closed pipe): stop writing.
    pub write_error: Option<std::io::Error>,
}

impl<'w> Tally<'w> {
    pub fn new(mode: &'w Mode, out: &'w Mutex<Box<dyn Write + Send>>) -> Tally<'w> {
        Tally {
            mode,
            out,
            kept: 0,
            groups: Groups::default(),
            write_error: None,
        }
    }
}

impl Visitor for Tally<'_> {
    fn visit(&mut self, _origin: &str, events: &mut dyn Iterator<Item = &NormalizedEvent>) {
        match self.mode {
            Mode::Count => self.kept += events.count() as u64,
            Mode::GroupBy(fields) => {
                for event in events {
                    self.kept += 1;
                    self.groups
                        .add(fields.iter().map(|f| f.text_in(event)).collect(), 1);
                }
            }
            Mode::Timeline(interval) => {
                for event in events {
                    self.kept += 1;
                    let start = interval_start(event.time.as_deref(), *interval)
                        .unwrap_or_else(|| "-".to_string());
                    self.groups.add(vec![start], 1);
                }
            }
            Mode::Rows { fields, format } => {
                let mut text = Vec::new();
                for event in events {
                    self.kept += 1;
                    output::write_row(&mut text, event, fields.as_deref(), *format);
                }
                if !text.is_empty() && self.write_error.is_none() {
                    let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
                    if let Err(e) = out.write_all(&text) {
                        self.write_error = Some(e);
                    }
                }
            }
        }
    }

    fn merge(&mut self, other: Self) {
        self.kept += other.kept;
        self.groups.merge(other.groups);
        if self.write_error.is_none() {
            self.write_error = other.write_error;
        }
    }

    fn stopped(&self) -> bool {
        self.write_error.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cloudtrail_normalize::normalize_bytes;

    fn event_at(time: &str) -> NormalizedEvent {
        let line = format!(
            r#"{{"eventVersion":"1.08","eventSource":"iam.amazonaws.com","eventName":"CreateUser","eventTime":"{time}","awsRegion":"eu-west-1","recipientAccountId":"111122223333"}}"#
        );
        match normalize_bytes(line.as_bytes(), &Options::default()).remove(0) {
            Item::Event(event) => event,
            other => panic!("{other:?}"),
        }
    }

    fn filter(since: Option<&str>, until: Option<&str>) -> Filter {
        Filter::new(&[], &[], None, None, since, until).unwrap()
    }

    #[test]
    fn time_bounds_include_the_whole_until_day_and_read_offsets() {
        let may_1 = filter(Some("2024-05-01"), Some("2024-05-01"));
        assert!(may_1.keeps(&event_at("2024-05-01T00:00:00Z")));
        assert!(may_1.keeps(&event_at("2024-05-01T23:59:59Z")));
        assert!(may_1.keeps(&event_at("2024-05-01T23:59:59.900Z")));
        assert!(!may_1.keeps(&event_at("2024-05-02T00:00:00Z")));
        assert!(!may_1.keeps(&event_at("2024-04-30T23:59:59Z")));
        // An offset is converted; an unreadable time is outside every range.
        assert!(may_1.keeps(&event_at("2024-05-02T01:00:00+02:00")));
        assert!(!may_1.keeps(&event_at("yesterday")));
        assert!(filter(None, None).keeps(&event_at("yesterday")));
        let to_the_second = filter(None, Some("2024-05-01T10:00:00Z"));
        assert!(to_the_second.keeps(&event_at("2024-05-01T10:00:00Z")));
        assert!(!to_the_second.keeps(&event_at("2024-05-01T10:00:01Z")));
    }

    #[test]
    fn patterns_are_alternatives_and_where_conditions_must_all_hold() {
        let event = event_at("2024-05-01T00:00:00Z");
        let keeps = |patterns: &[&str], conditions: &[&str]| {
            let patterns: Vec<String> = patterns.iter().map(|p| p.to_string()).collect();
            let conditions: Vec<String> = conditions.iter().map(|c| c.to_string()).collect();
            Filter::new(&patterns, &conditions, None, None, None, None)
                .unwrap()
                .keeps(&event)
        };
        let create = r#"{"detail":{"eventName":["CreateUser"]}}"#;
        let delete = r#"{"detail":{"eventName":["DeleteUser"]}}"#;
        assert!(keeps(&[delete, create], &[]));
        assert!(!keeps(&[delete], &[]));
        assert!(keeps(&[create], &["region=eu-west-1"]));
        assert!(!keeps(&[create], &["region=us-east-1"]));
        assert!(keeps(
            &[],
            &["eventName=CreateUser", "account=111122223333"]
        ));
        assert!(!keeps(
            &[],
            &["eventName=CreateUser", "account=999999999999"]
        ));
    }

    #[test]
    fn groups_stay_bounded_and_sort_largest_first() {
        let mut groups = Groups::default();
        groups.add(vec!["a".into()], 1);
        groups.add(vec!["b".into()], 3);
        groups.add(vec!["a".into()], 1);
        assert_eq!(groups.top(Some(1)), vec![(vec!["b".to_string()], 3)]);
        assert_eq!(
            interval_start(Some("2024-05-01T10:59:59Z"), Duration::from_secs(3600)).as_deref(),
            Some("2024-05-01T10:00:00Z")
        );
        assert_eq!(
            interval_start(Some("not a time"), Duration::from_secs(3600)),
            None
        );
    }
}
