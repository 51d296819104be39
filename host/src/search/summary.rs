//! `trailwarden summary`: the overview a responder wants first. Events per account,
//! region and service, top principals, top error codes, console sign-ins, root use, and
//! a timeline, from one pass over the logs.

use std::io::Write;
use std::time::Duration;

use cloudtrail_normalize::NormalizedEvent;
use serde::Serialize;

use super::output::{write_counts, RowFormat};
use super::{interval_start, Groups, Visitor};

/// One summary's tallies (per thread, then merged).
#[derive(Debug, Clone)]
pub struct Summary {
    interval: Duration,
    pub events: u64,
    pub accounts: Groups,
    pub regions: Groups,
    pub services: Groups,
    pub principals: Groups,
    pub error_codes: Groups,
    /// `ConsoleLogin` per outcome (`Success`, `Failure`) and principal.
    pub console_sign_ins: Groups,
    /// Calls by the root user, per event name.
    pub root_use: Groups,
    pub timeline: Groups,
}

impl Summary {
    pub fn new(interval: Duration) -> Summary {
        Summary {
            interval,
            events: 0,
            accounts: Groups::default(),
            regions: Groups::default(),
            services: Groups::default(),
            principals: Groups::default(),
            error_codes: Groups::default(),
            console_sign_ins: Groups::default(),
            root_use: Groups::default(),
            timeline: Groups::default(),
        }
    }

    fn add(&mut self, event: &NormalizedEvent) {
        let or_dash = |v: Option<&String>| v.cloned().unwrap_or_else(|| "-".to_string());
        self.events += 1;
        self.accounts.add(vec![or_dash(event.account.as_ref())], 1);
        self.regions.add(vec![or_dash(event.region.as_ref())], 1);
        self.services.add(vec![or_dash(event.source.as_ref())], 1);
        self.principals.add(vec![principal(event)], 1);
        if let Some(code) = &event.error_code {
            self.error_codes.add(vec![code.clone()], 1);
        }
        if event.name.as_deref() == Some("ConsoleLogin") {
            let outcome = event
                .record
                .pointer("/responseElements/ConsoleLogin")
                .and_then(|v| v.as_str())
                .unwrap_or("-")
                .to_string();
            self.console_sign_ins
                .add(vec![outcome, principal(event)], 1);
        }
        if event.principal.kind.as_deref() == Some("Root") {
            self.root_use.add(
                vec![
                    or_dash(event.account.as_ref()),
                    or_dash(event.name.as_ref()),
                ],
                1,
            );
        }
        let start =
            interval_start(event.time.as_deref(), self.interval).unwrap_or_else(|| "-".to_string());
        self.timeline.add(vec![start], 1);
    }

    /// The sections, each with its column names and rows (at most `top` rows each, but
    /// the timeline in full).
    pub fn sections(&self, top: usize) -> Vec<Section> {
        let section = |title: &str, names: &[&str], groups: &Groups, all: bool| Section {
            title: title.to_string(),
            columns: names.iter().map(|n| n.to_string()).collect(),
            rows: if all {
                groups.by_key()
            } else {
                groups.top(Some(top))
            }
            .into_iter()
            .map(|(key, count)| SectionRow { key, count })
            .collect(),
            distinct: groups.counts.len(),
        };
        vec![
            section("events per account", &["account"], &self.accounts, false),
            section("events per region", &["region"], &self.regions, false),
            section("events per service", &["service"], &self.services, false),
            section("top principals", &["principal"], &self.principals, false),
            section("top error codes", &["error code"], &self.error_codes, false),
            section(
                "console sign-ins",
                &["outcome", "principal"],
                &self.console_sign_ins,
                false,
            ),
            section("root use", &["account", "event"], &self.root_use, false),
            section("timeline", &["from"], &self.timeline, true),
        ]
    }

    /// As tables, one per section, or one JSON document.
    ///
    /// # Errors
    /// The writer fails.
    pub fn write(&self, out: &mut dyn Write, top: usize, json: bool) -> std::io::Result<()> {
        let sections = self.sections(top);
        if json {
            let document = serde_json::json!({
                "events": self.events,
                "interval_s": self.interval.as_secs(),
                "sections": sections,
            });
            return writeln!(out, "{document:#}");
        }
        writeln!(out, "{} events", self.events)?;
        for section in &sections {
            writeln!(out, "\n{} ({} distinct)", section.title, section.distinct)?;
            if section.rows.is_empty() {
                writeln!(out, "  none")?;
                continue;
            }
            let rows: Vec<(Vec<String>, u64)> = section
                .rows
                .iter()
                .map(|r| (r.key.clone(), r.count))
                .collect();
            write_counts(out, &section.columns, &rows, RowFormat::Table)?;
        }
        Ok(())
    }
}

/// Who made a call, as one word: the ARN, else the type and user name, else `-`.
fn principal(event: &NormalizedEvent) -> String {
    let p = &event.principal;
    if let Some(arn) = &p.arn {
        return arn.clone();
    }
    match (&p.kind, &p.user_name, &p.invoked_by) {
        (Some(kind), Some(name), _) => format!("{kind}:{name}"),
        (_, _, Some(service)) => service.clone(),
        (Some(kind), None, None) => kind.clone(),
        _ => "-".to_string(),
    }
}

/// One section of the summary.
#[derive(Debug, Clone, Serialize)]
pub struct Section {
    pub title: String,
    pub columns: Vec<String>,
    pub rows: Vec<SectionRow>,
    /// Distinct keys seen (rows are the top ones).
    pub distinct: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct SectionRow {
    pub key: Vec<String>,
    pub count: u64,
}

impl Visitor for Summary {
    fn visit(&mut self, _origin: &str, events: &mut dyn Iterator<Item = &NormalizedEvent>) {
        for event in events {
            self.add(event);
        }
    }

    fn merge(&mut self, other: Self) {
        self.events += other.events;
        self.accounts.merge(other.accounts);
        self.regions.merge(other.regions);
        self.services.merge(other.services);
        self.principals.merge(other.principals);
        self.error_codes.merge(other.error_codes);
        self.console_sign_ins.merge(other.console_sign_ins);
        self.root_use.merge(other.root_use);
        self.timeline.merge(other.timeline);
    }
}
