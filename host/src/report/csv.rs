//! CSV rendering (RFC 4180: comma-separated, CRLF line ends, fields quoted when they hold a
//! comma, quote or line break). One table per report, in long form where a report has
//! several sections, so any spreadsheet or `csv` reader takes it as it is.

use super::cis::CisReport;
use super::coverage::CoverageReport;
use super::queries::{ActivityReport, FindingFacts};

/// Builds CSV text row by row.
#[derive(Default)]
pub struct CsvWriter {
    out: String,
}

impl CsvWriter {
    pub fn new(header: &[&str]) -> CsvWriter {
        let mut writer = CsvWriter::default();
        writer.row(header.iter().copied());
        writer
    }

    pub fn row<'a>(&mut self, fields: impl IntoIterator<Item = &'a str>) {
        for (i, field) in fields.into_iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            // A leading =, +, - or @ would be read as a formula by spreadsheets: prefix it.
            let guarded = if field.starts_with(['=', '+', '-', '@']) {
                format!("'{field}")
            } else {
                field.to_string()
            };
            if guarded.contains([',', '"', '\n', '\r']) {
                self.out.push('"');
                self.out.push_str(&guarded.replace('"', "\"\""));
                self.out.push('"');
            } else {
                self.out.push_str(&guarded);
            }
        }
        self.out.push_str("\r\n");
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// `report activity` as rows of (section, name, detail, count).
pub fn activity(report: &ActivityReport) -> String {
    let mut w = CsvWriter::new(&["section", "name", "detail", "count"]);
    let mut put = |section: &str, name: &str, detail: &str, count: u64| {
        w.row([section, name, detail, &count.to_string()]);
    };
    put("findings", "total", "", report.findings_total);
    put("events", "total", "", report.events_total);
    for c in &report.by_severity {
        put("severity", &c.name, "", c.count);
    }
    for b in &report.over_time {
        for s in &b.severities {
            put("over_time", &b.label, &s.name, s.count);
        }
    }
    for (section, items) in [
        ("rule", &report.top_rules),
        ("principal", &report.top_principals),
        ("account", &report.accounts),
        ("region", &report.regions),
        ("source_ip", &report.source_ips),
        ("dead_letter", &report.dead_letters),
        ("ingest", &report.ingest),
        ("action_status", &report.actions.by_status),
    ] {
        for c in items {
            put(section, &c.name, "", c.count);
        }
    }
    let a = &report.actions;
    for (name, count) in [
        ("taken", a.taken),
        ("pending", a.pending),
        ("rejected", a.rejected),
        ("undone", a.undone),
        ("denied", a.denied),
        ("dry_run", a.dry_run),
        ("failed", a.failed),
    ] {
        put("actions", name, "", count);
    }
    for f in &report.plugin_failures {
        put("plugin_failure", &f.plugin, &f.kind, f.count);
    }
    for q in &report.quarantines {
        put("lifecycle", &q.plugin, &format!("{} {}", q.event, q.at), 1);
    }
    w.finish()
}

/// `report coverage`: one row per (tactic, technique, rule).
pub fn coverage(report: &CoverageReport) -> String {
    let mut w = CsvWriter::new(&[
        "tactic",
        "technique",
        "technique_name",
        "rule",
        "plugin",
        "severity",
        "findings",
    ]);
    let columns = report
        .tactics
        .iter()
        .map(|c| (c.name.as_str(), &c.techniques))
        .chain(std::iter::once(("unmapped", &report.unmapped)));
    for (tactic, cells) in columns {
        for cell in cells {
            for rule in &cell.rules {
                w.row([
                    tactic,
                    &cell.id,
                    &cell.name,
                    &rule.id,
                    &rule.plugin,
                    &rule.severity,
                    &rule.fired.to_string(),
                ]);
            }
        }
    }
    w.finish()
}

/// `report cis`: one row per (control, account, region).
pub fn cis(report: &CisReport) -> String {
    let mut w = CsvWriter::new(&[
        "control",
        "v6",
        "v7",
        "title",
        "control_status",
        "account",
        "region",
        "events",
        "findings",
        "actions",
        "status",
        "implemented_by",
        "coverage",
    ]);
    for c in &report.controls {
        let rules = c.implemented_by.join(" ");
        if c.evidence.is_empty() {
            w.row([
                c.id.as_str(),
                &c.v6,
                c.v7.as_deref().unwrap_or(""),
                &c.title,
                c.status.as_str(),
                "",
                "",
                "0",
                "0",
                "0",
                c.status.as_str(),
                &rules,
                &c.coverage,
            ]);
        }
        for e in &c.evidence {
            w.row([
                c.id.as_str(),
                &c.v6,
                c.v7.as_deref().unwrap_or(""),
                &c.title,
                c.status.as_str(),
                &e.account,
                &e.region,
                &e.events.to_string(),
                &e.findings.to_string(),
                &e.actions.to_string(),
                e.status.as_str(),
                &rules,
                &c.coverage,
            ]);
        }
    }
    w.finish()
}

/// Findings, one row each (`export findings --format csv`).
pub fn findings(findings: &[FindingFacts]) -> String {
    let mut w = CsvWriter::new(&[
        "time",
        "severity",
        "rule_id",
        "plugin",
        "plugin_version",
        "plugin_sha256",
        "title",
        "account",
        "region",
        "principal",
        "source_ip",
        "event_id",
        "resources",
        "recorded_at",
    ]);
    for f in findings {
        let s = &f.finding;
        w.row([
            f.time.as_str(),
            &s.severity,
            &s.rule_id,
            &s.plugin,
            &s.plugin_version,
            &s.plugin_sha256,
            &s.title,
            f.account.as_deref().unwrap_or(""),
            f.region.as_deref().unwrap_or(""),
            f.principal.as_deref().unwrap_or(""),
            f.source_ip.as_deref().unwrap_or(""),
            &s.event_id,
            &s.resources.join(" "),
            &s.recorded_at,
        ]);
    }
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_and_formulas_defused() {
        let mut w = CsvWriter::new(&["a", "b"]);
        w.row(["x,y", "say \"hi\""]);
        w.row(["=cmd()", "line\nbreak"]);
        assert_eq!(
            w.finish(),
            "a,b\r\n\"x,y\",\"say \"\"hi\"\"\"\r\n'=cmd(),\"line\nbreak\"\r\n"
        );
    }
}
