//! How findings and summaries are printed.

use std::io::Write;

use crate::audit::StoredFinding;
use crate::pipeline::RunStats;
pub use crate::table::{fit, Format};

/// Column widths of the findings table (the last column, TITLE, takes the rest).
const RULE_WIDTH: usize = 36;
const PLUGIN_WIDTH: usize = 22;
const EVENT_ID_WIDTH: usize = 24;

/// The header of the findings table.
pub fn finding_header() -> String {
    format!(
        "{:<8} {} {} {:<20} {} TITLE",
        "SEVERITY",
        fit("RULE", RULE_WIDTH),
        fit("PLUGIN", PLUGIN_WIDTH),
        "EVENT TIME",
        fit("EVENT ID", EVENT_ID_WIDTH)
    )
}

/// What a table shows for a finding's rule: its id, except for Sigma rules, whose ids are
/// bare UUIDs: those show the Sigma rule's title.
pub fn rule_label(finding: &StoredFinding) -> String {
    // Only a Sigma finding's context is read (the rule's title is in it).
    if finding.rule_id.starts_with("sigma.") {
        if let Some(title) = finding.context.title() {
            return format!("sigma: {title}");
        }
    }
    finding.rule_id.clone()
}

/// One finding as a table row.
pub fn finding_row(finding: &StoredFinding) -> String {
    format!(
        "{:<8} {} {} {:<20} {} {}",
        finding.severity.to_uppercase(),
        fit(&rule_label(finding), RULE_WIDTH),
        fit(&finding.plugin, PLUGIN_WIDTH),
        finding.event_time.as_deref().unwrap_or("-"),
        fit(&finding.event_id, EVENT_ID_WIDTH),
        finding.title
    )
}

/// Severities from the least to the most severe; unknown ones rank lowest.
fn severity_rank(severity: &str) -> usize {
    ["info", "low", "medium", "high", "critical"]
        .iter()
        .position(|s| s.eq_ignore_ascii_case(severity))
        .map_or(0, |i| i + 1)
}

/// The findings of one event: several plugins (and a plugin's several rules) may flag the
/// same event, e.g. a root console sign-in without MFA is root use, a sign-in without MFA,
/// and two Sigma rules.
#[derive(Debug, serde::Serialize)]
pub struct EventFindings<'a> {
    pub event_id: &'a str,
    pub event_time: Option<&'a str>,
    /// The highest severity among them.
    pub severity: &'a str,
    pub principal: Option<&'a str>,
    /// Most severe first; among equals, the shipped plugins before Sigma's generic rules.
    pub findings: Vec<&'a StoredFinding>,
}

/// Groups findings by event, in the order the events first appear.
pub fn group_by_event(findings: &[StoredFinding]) -> Vec<EventFindings<'_>> {
    let mut groups: Vec<EventFindings<'_>> = Vec::new();
    for finding in findings {
        match groups.iter_mut().find(|g| g.event_id == finding.event_id) {
            Some(group) => group.findings.push(finding),
            None => groups.push(EventFindings {
                event_id: &finding.event_id,
                event_time: finding.event_time.as_deref(),
                severity: &finding.severity,
                principal: None,
                findings: vec![finding],
            }),
        }
    }
    for group in &mut groups {
        group.findings.sort_by_key(|f| {
            (
                std::cmp::Reverse(severity_rank(&f.severity)),
                f.plugin == "sigma",
            )
        });
        group.severity = &group.findings[0].severity;
        group.principal = group.findings.iter().find_map(|f| principal(f));
    }
    groups
}

/// The header of the findings-by-event table.
pub fn event_findings_header() -> String {
    format!(
        "{:<8} {:<20} {} {} FINDINGS",
        "SEVERITY",
        "EVENT TIME",
        fit("EVENT ID", EVENT_ID_WIDTH),
        fit("PRINCIPAL", PRINCIPAL_WIDTH)
    )
}

const PRINCIPAL_WIDTH: usize = 34;

/// One event as a table row: its most severe finding's title, then what else flagged it.
pub fn event_findings_row(group: &EventFindings<'_>) -> String {
    let first = group.findings[0];
    let mut text = first.title.clone();
    if group.findings.len() > 1 {
        let others: Vec<String> = group.findings[1..]
            .iter()
            .map(|f| {
                if f.plugin == "sigma" {
                    rule_label(f)
                } else {
                    f.plugin.clone()
                }
            })
            .collect();
        text.push_str(&format!(
            "  [+{} more: {}]",
            others.len(),
            others.join(", ")
        ));
    }
    format!(
        "{:<8} {:<20} {} {} {}",
        group.severity.to_uppercase(),
        group.event_time.unwrap_or("-"),
        fit(group.event_id, EVENT_ID_WIDTH),
        fit(
            group.principal.map_or("-", short_principal),
            PRINCIPAL_WIDTH
        ),
        text
    )
}

/// Who did what a finding is about, as the plugin recorded it in its context (plugins
/// name it differently: `principal_arn`, `caller_arn`, `actor`, `user`), else the first of
/// its resources that names a caller (the root user, an IAM user, a role session).
pub fn principal(finding: &StoredFinding) -> Option<&str> {
    let from_context = |keys: &[&str]| {
        keys.iter()
            .find_map(|key| finding.context.get(key).and_then(|v| v.as_str()))
            .filter(|s| !s.is_empty())
    };
    from_context(&["principal_arn", "caller_arn", "actor"])
        .or_else(|| {
            finding
                .resources
                .iter()
                .map(String::as_str)
                .find(|r| is_caller_arn(r))
        })
        .or_else(|| from_context(&["user_name", "user"]))
}

/// A principal in a table: its ARN without the `arn:aws:iam::`/`arn:aws:sts::` prefix, so
/// the name at its end survives the column's width (`111122223333:user/alice`).
fn short_principal(principal: &str) -> &str {
    principal
        .strip_prefix("arn:aws:iam::")
        .or_else(|| principal.strip_prefix("arn:aws:sts::"))
        .unwrap_or(principal)
}

fn is_caller_arn(arn: &str) -> bool {
    arn.starts_with("arn:aws:sts::")
        || (arn.starts_with("arn:aws:iam::") && (arn.ends_with(":root") || arn.contains(":user/")))
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

#[cfg(test)]
mod tests {
    use super::fit;

    #[test]
    fn fit_cuts_with_an_ellipsis_and_pads() {
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("ab", 4), "ab  ");
        assert_eq!(fit("abcd", 4), "abcd");
        assert_eq!(fit("éèàù-x", 5).chars().count(), 5);
    }
}
