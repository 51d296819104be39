//! How findings and summaries are printed.

use std::io::Write;

use crate::audit::StoredFinding;
use crate::pipeline::RunStats;

/// Output format chosen with `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// The header of the findings table.
pub fn finding_header() -> String {
    format!(
        "{:<8} {:<36} {:<22} {:<20} {:<36} TITLE",
        "SEVERITY", "RULE", "PLUGIN", "EVENT TIME", "EVENT ID"
    )
}

/// One finding as a table row.
pub fn finding_row(finding: &StoredFinding) -> String {
    format!(
        "{:<8} {:<36} {:<22} {:<20} {:<36} {}",
        finding.severity.to_uppercase(),
        finding.rule_id,
        finding.plugin,
        finding.event_time.as_deref().unwrap_or("-"),
        finding.event_id,
        finding.title
    )
}

/// Who did what a finding is about, as the plugin recorded it in its context (plugins
/// name it differently: `principal_arn`, `caller_arn`, `actor`, `user`).
pub fn principal(finding: &StoredFinding) -> Option<&str> {
    ["principal_arn", "caller_arn", "actor", "user_name", "user"]
        .iter()
        .find_map(|key| finding.context.get(key).and_then(|v| v.as_str()))
        .filter(|s| !s.is_empty())
}

/// Characters of a dead letter's raw text shown in the table (`--format json` has it all).
const RAW_SHOWN: usize = 60;

/// The header of the rejected-inputs table.
pub fn rejected_header() -> String {
    format!(
        "{:<6} {:<20} {:<20} {:<32} RAW",
        "ID", "RECORDED", "REASON", "ORIGIN"
    )
}

/// One rejected input as a table row, its raw text on one line and cut short.
pub fn rejected_row(input: &crate::audit::RejectedInput) -> String {
    let flat: String = input
        .raw
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let raw = if flat.chars().count() > RAW_SHOWN {
        format!("{}…", flat.chars().take(RAW_SHOWN).collect::<String>())
    } else {
        flat
    };
    format!(
        "{:<6} {:<20} {:<20} {:<32} {}",
        input.id, input.recorded_at, input.reason, input.origin, raw
    )
}

/// Writes the closing summary of a run in readable form.
///
/// # Errors
/// The writer fails.
pub fn write_summary(out: &mut dyn Write, stats: &RunStats) -> std::io::Result<()> {
    writeln!(out, "summary")?;
    writeln!(out, "  events read      {}", stats.events_read)?;
    writeln!(out, "  normalised       {}", stats.normalised)?;
    let skipped: u64 = stats.skipped.values().sum();
    writeln!(out, "  skipped          {skipped}")?;
    for (reason, n) in &stats.skipped {
        writeln!(out, "    {reason:<20} {n}")?;
    }
    let rejected: u64 = stats.rejected.values().sum();
    writeln!(out, "  rejected         {rejected}")?;
    for (reason, n) in &stats.rejected {
        writeln!(out, "    {reason:<20} {n}")?;
    }
    writeln!(
        out,
        "  findings         {}",
        stats.findings.values().sum::<u64>()
    )?;
    for (plugin, matched) in &stats.matched {
        let found = stats.findings.get(plugin).copied().unwrap_or(0);
        writeln!(
            out,
            "    {plugin:<24} {found} findings from {matched} matched events"
        )?;
    }
    if !stats.plugin_failures.is_empty() {
        writeln!(out, "  plugin failures")?;
        for (plugin, kinds) in &stats.plugin_failures {
            for (kind, n) in kinds {
                writeln!(out, "    {plugin:<24} {kind} x{n}")?;
            }
        }
    }
    writeln!(
        out,
        "  elapsed          {:.3} s ({:.0} events/s)",
        stats.elapsed_s, stats.events_per_s
    )
}
