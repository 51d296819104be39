//! Reports and exports over the audit database.
//!
//! One query layer (`queries`, `coverage`, `cis`) builds typed results; `html`, `csv` and
//! JSON (serde) render them, so a web console can serve the same structures. `ocsf` and
//! `asff` map stored findings to the formats other security tools read.
//!
//! Everything here reads the audit database; the only writes are `CREATE ... IF NOT
//! EXISTS` of the report indexes and of the `event_volume` table (see `volume`). The
//! commands (`report`, `export`) are `crate::report_cli`, outside this module, so that
//! reports import neither the config loader nor `rules list`.

pub mod asff;
pub mod attack;
pub mod cis;
pub mod coverage;
pub mod csv;
pub mod html;
pub mod ocsf;
pub mod queries;
pub mod volume;

use serde::Serialize;

/// The period a report covers: RFC 3339 UTC times, both ends included. Findings are placed
/// by their event time (else the time recorded); operational rows (plugin failures, dead
/// letters, lifecycle) by the time they were recorded.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Period {
    pub since: String,
    pub until: String,
}

impl Period {
    /// The first day (`YYYY-MM-DD`) of the period, for day-keyed tables.
    pub fn first_day(&self) -> &str {
        day_of(&self.since)
    }

    /// The last day (`YYYY-MM-DD`) of the period.
    pub fn last_day(&self) -> &str {
        day_of(&self.until)
    }
}

fn day_of(time: &str) -> &str {
    time.get(..10).unwrap_or(time)
}

/// A name and how many times it occurred.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Counted {
    pub name: String,
    pub count: u64,
}

/// The output format of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Html,
    Json,
    Csv,
}

/// The severities in order, most severe first; others sort after them.
pub const SEVERITIES: [&str; 5] = ["critical", "high", "medium", "low", "info"];

/// Sort rank of a severity name (unknown names last).
pub fn severity_rank(severity: &str) -> usize {
    SEVERITIES
        .iter()
        .position(|s| s.eq_ignore_ascii_case(severity))
        .unwrap_or(SEVERITIES.len())
}
