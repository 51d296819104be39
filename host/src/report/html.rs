//! HTML rendering: one self-contained file per report (inline CSS, inline SVG charts, no
//! scripts, no external assets), laid out to print on A4/Letter.

use std::fmt::Write;

use super::cis::{CisReport, Status};
use super::coverage::CoverageReport;
use super::queries::ActivityReport;
use super::{Counted, Period};

const STYLE: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1b1f24;margin:2rem;max-width:1100px}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;border-bottom:1px solid #d0d7de;padding-bottom:.2rem;margin-top:1.8rem}
.meta{color:#57606a;font-size:.9rem}table{border-collapse:collapse;width:100%;font-size:.85rem;margin:.5rem 0}
th,td{border:1px solid #d0d7de;padding:.25rem .45rem;text-align:left;vertical-align:top}th{background:#f6f8fa}
td.n{text-align:right;font-variant-numeric:tabular-nums}.grid{display:grid;grid-template-columns:1fr 1fr;gap:1rem}
.kpi{display:flex;gap:1rem;flex-wrap:wrap}.kpi div{border:1px solid #d0d7de;border-radius:6px;padding:.5rem .8rem}
.kpi b{display:block;font-size:1.3rem}code{font-size:.8rem;word-break:break-all}
.s-monitored-alerts{background:#ffebe9}.s-monitored-quiet{background:#dafbe1}.s-not-monitored{background:#fff8c5}.s-no-data{background:#eaeef2}
.fired{background:#ffebe9}.claimed{background:#dafbe1}
.matrix{display:grid;grid-template-columns:repeat(auto-fill,minmax(160px,1fr));gap:.5rem}
.matrix section{border:1px solid #d0d7de;border-radius:6px;padding:.3rem}.matrix h3{font-size:.85rem;margin:.1rem 0 .3rem}
.matrix p{font-size:.75rem;margin:.2rem 0;padding:.2rem;border-radius:4px}
svg text{font-size:11px;fill:#1b1f24}
@media print{body{margin:0;max-width:none;-webkit-print-color-adjust:exact;print-color-adjust:exact}h2{break-after:avoid}table,svg,.matrix section{break-inside:avoid}}
";

/// Severity colours (most severe first), shared by charts and legends.
const SEVERITY_COLOURS: &[(&str, &str)] = &[
    ("critical", "#82071e"),
    ("high", "#cf222e"),
    ("medium", "#bf8700"),
    ("low", "#0969da"),
    ("info", "#6e7781"),
];

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn page(
    title: &str,
    period: &Period,
    account: Option<&str>,
    generated: &str,
    body: &str,
) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t}</title><style>{STYLE}</style></head><body>\
         <h1>{t}</h1><p class=\"meta\">{since} to {until}{acct} · generated {generated} by trailwarden {v}</p>\
         {body}</body></html>\n",
        t = escape(title),
        since = escape(&period.since),
        until = escape(&period.until),
        acct = account
            .map(|a| format!(" · account {}", escape(a)))
            .unwrap_or_default(),
        generated = escape(generated),
        v = env!("CARGO_PKG_VERSION"),
    )
}

fn colour(severity: &str) -> &'static str {
    SEVERITY_COLOURS
        .iter()
        .find(|(s, _)| s.eq_ignore_ascii_case(severity))
        .map_or("#8c959f", |(_, c)| c)
}

/// A horizontal bar chart of counts.
fn bars(title: &str, items: &[Counted]) -> String {
    let mut out = format!("<h3>{}</h3>", escape(title));
    if items.is_empty() {
        out.push_str("<p class=\"meta\">none</p>");
        return out;
    }
    let max = items.iter().map(|c| c.count).max().unwrap_or(1).max(1);
    let row = 20;
    let label_w = 260;
    let bar_w = 240;
    let height = row * items.len() + 4;
    let _ = write!(
        out,
        "<svg role=\"img\" aria-label=\"{}\" width=\"{}\" height=\"{height}\" viewBox=\"0 0 {} {height}\">",
        escape(title),
        label_w + bar_w + 60,
        label_w + bar_w + 60
    );
    for (i, item) in items.iter().enumerate() {
        let y = i * row;
        let w = (item.count as f64 / max as f64 * bar_w as f64).max(1.0);
        let label = truncate(&item.name, 42);
        let _ = write!(
            out,
            "<text x=\"0\" y=\"{ty}\"><title>{full}</title>{label}</text>\
             <rect x=\"{label_w}\" y=\"{ry}\" width=\"{w:.1}\" height=\"14\" fill=\"#0969da\"/>\
             <text x=\"{tx:.1}\" y=\"{ty}\">{count}</text>",
            ty = y + 14,
            ry = y + 3,
            full = escape(&item.name),
            label = escape(&label),
            tx = label_w as f64 + w + 4.0,
            count = item.count
        );
    }
    out.push_str("</svg>");
    out
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let head: String = text.chars().take(max - 1).collect();
        format!("{head}…")
    }
}

/// Stacked columns of findings per time bucket, by severity.
fn timeline(report: &ActivityReport) -> String {
    let buckets = &report.over_time;
    if buckets.is_empty() {
        return "<p class=\"meta\">No findings in the period.</p>".to_string();
    }
    let max = buckets.iter().map(|b| b.total).max().unwrap_or(1).max(1);
    let chart_h = 160.0;
    let col_w = (900 / buckets.len()).clamp(6, 40);
    let width = col_w * buckets.len() + 40;
    let mut out = format!(
        "<svg role=\"img\" aria-label=\"Findings over time by severity\" width=\"{width}\" height=\"200\" viewBox=\"0 0 {width} 200\">\
         <text x=\"0\" y=\"12\">{max}</text><line x1=\"30\" y1=\"{base}\" x2=\"{width}\" y2=\"{base}\" stroke=\"#8c959f\"/>",
        base = chart_h + 10.0
    );
    for (i, bucket) in buckets.iter().enumerate() {
        let x = 30 + i * col_w;
        let mut y = chart_h + 10.0;
        for severity in &bucket.severities {
            let h = severity.count as f64 / max as f64 * chart_h;
            y -= h;
            let _ = write!(
                out,
                "<rect x=\"{x}\" y=\"{y:.1}\" width=\"{w}\" height=\"{h:.1}\" fill=\"{c}\"><title>{label}: {count} {sev}</title></rect>",
                w = col_w.saturating_sub(2).max(1),
                c = colour(&severity.name),
                label = escape(&bucket.label),
                count = severity.count,
                sev = escape(&severity.name)
            );
        }
    }
    let first = &buckets[0].label;
    let last = &buckets[buckets.len() - 1].label;
    let _ = write!(
        out,
        "<text x=\"30\" y=\"190\">{}</text><text x=\"{}\" y=\"190\" text-anchor=\"end\">{}</text></svg>",
        escape(first),
        width,
        escape(last)
    );
    out.push_str("<p class=\"meta\">");
    for (severity, c) in SEVERITY_COLOURS {
        let _ = write!(
            out,
            "<svg width=\"10\" height=\"10\"><rect width=\"10\" height=\"10\" fill=\"{c}\"/></svg> {severity} &nbsp; "
        );
    }
    out.push_str("</p>");
    out
}

fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::from("<table><thead><tr>");
    for h in headers {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr></thead><tbody>");
    if rows.is_empty() {
        let _ = write!(
            out,
            "<tr><td colspan=\"{}\" class=\"meta\">none</td></tr>",
            headers.len()
        );
    }
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let numeric = !cell.is_empty() && cell.chars().all(|c| c.is_ascii_digit());
            let _ = write!(
                out,
                "<td{}>{}</td>",
                if numeric { " class=\"n\"" } else { "" },
                escape(cell)
            );
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

/// `report activity` as HTML.
pub fn activity(report: &ActivityReport) -> String {
    let mut body = String::new();
    let a = &report.actions;
    let _ = write!(
        body,
        "<div class=\"kpi\"><div><b>{}</b>findings</div><div><b>{}</b>events received</div>\
         <div><b>{}</b>actions taken</div><div><b>{}</b>pending</div><div><b>{}</b>rejected</div>\
         <div><b>{}</b>undone</div><div><b>{}</b>plugin failures</div><div><b>{}</b>dead letters</div></div>",
        report.findings_total,
        report.events_total,
        a.taken,
        a.pending,
        a.rejected,
        a.undone,
        report.plugin_failures.iter().map(|f| f.count).sum::<u64>(),
        report.dead_letters.iter().map(|d| d.count).sum::<u64>(),
    );
    body.push_str("<h2>Findings over time</h2>");
    body.push_str(&timeline(report));
    body.push_str("<h2>Findings by severity, rule, principal and place</h2><div class=\"grid\">");
    for (title, items) in [
        ("By severity", &report.by_severity),
        ("Top rules", &report.top_rules),
        (
            "Top principals (AWS services left out)",
            &report.top_principals,
        ),
        ("Top source IPs", &report.source_ips),
        ("Accounts", &report.accounts),
        ("Regions", &report.regions),
    ] {
        let _ = write!(body, "<div>{}</div>", bars(title, items));
    }
    body.push_str("</div><h2>Response actions</h2>");
    body.push_str(&table(
        &[
            "taken", "pending", "rejected", "undone", "denied", "dry run", "failed",
        ],
        &[vec![
            a.taken.to_string(),
            a.pending.to_string(),
            a.rejected.to_string(),
            a.undone.to_string(),
            a.denied.to_string(),
            a.dry_run.to_string(),
            a.failed.to_string(),
        ]],
    ));
    body.push_str("<h2>Plugin failures and quarantines</h2>");
    body.push_str(&table(
        &["plugin", "kind", "batches"],
        &report
            .plugin_failures
            .iter()
            .map(|f| vec![f.plugin.clone(), f.kind.clone(), f.count.to_string()])
            .collect::<Vec<_>>(),
    ));
    body.push_str(&table(
        &["at", "plugin", "what", "sha256", "detail"],
        &report
            .quarantines
            .iter()
            .map(|q| {
                vec![
                    q.at.clone(),
                    q.plugin.clone(),
                    q.event.clone(),
                    q.sha256.chars().take(12).collect(),
                    q.detail.clone(),
                ]
            })
            .collect::<Vec<_>>(),
    ));
    body.push_str("<h2>Dead letters by reason</h2>");
    body.push_str(&table(
        &["reason", "inputs"],
        &report
            .dead_letters
            .iter()
            .map(|d| vec![d.name.clone(), d.count.to_string()])
            .collect::<Vec<_>>(),
    ));
    body.push_str("<h2>Ingest volume by source</h2>");
    body.push_str(&table(
        &["source", "events"],
        &report
            .ingest
            .iter()
            .map(|d| vec![d.name.clone(), d.count.to_string()])
            .collect::<Vec<_>>(),
    ));
    page(
        "trailwarden activity report",
        &report.period,
        report.account.as_deref(),
        &report.generated_at,
        &body,
    )
}

/// `report coverage` as HTML.
pub fn coverage(report: &CoverageReport) -> String {
    let mut body = format!(
        "<div class=\"kpi\"><div><b>{}</b>active rules</div><div><b>{}</b>techniques claimed</div>\
         <div><b>{}</b>techniques that fired</div><div><b>{}</b>refused rules</div></div>\
         <h2>ATT&amp;CK matrix</h2><p class=\"meta\">Green: claimed by a loaded rule. Red: a rule fired in the period.</p><div class=\"matrix\">",
        report.rules_active, report.techniques_claimed, report.techniques_fired, report.rules_refused
    );
    for column in report.tactics.iter().filter(|c| !c.techniques.is_empty()) {
        let _ = write!(body, "<section><h3>{}</h3>", escape(&column.name));
        for cell in &column.techniques {
            let rules: Vec<String> = cell.rules.iter().map(|r| r.id.clone()).collect();
            let _ = write!(
                body,
                "<p class=\"{}\" title=\"{}\"><b>{}</b> {}{}</p>",
                if cell.fired > 0 { "fired" } else { "claimed" },
                escape(&rules.join(", ")),
                escape(&cell.id),
                escape(&cell.name),
                if cell.fired > 0 {
                    format!(
                        " ({} finding{})",
                        cell.fired,
                        if cell.fired == 1 { "" } else { "s" }
                    )
                } else {
                    String::new()
                }
            );
        }
        body.push_str("</section>");
    }
    body.push_str("</div><h2>Rules behind each technique</h2>");
    let mut rows = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for column in &report.tactics {
        for cell in &column.techniques {
            for rule in &cell.rules {
                rows.push(vec![
                    column.name.clone(),
                    cell.id.clone(),
                    rule.id.clone(),
                    rule.plugin.clone(),
                    rule.severity.clone(),
                    rule.fired.to_string(),
                ]);
            }
            seen.insert(cell.id.clone());
        }
    }
    for cell in &report.unmapped {
        for rule in &cell.rules {
            rows.push(vec![
                "(not in the shipped ATT&CK table)".into(),
                cell.id.clone(),
                rule.id.clone(),
                rule.plugin.clone(),
                rule.severity.clone(),
                rule.fired.to_string(),
            ]);
        }
    }
    body.push_str(&table(
        &[
            "tactic",
            "technique",
            "rule",
            "plugin",
            "severity",
            "findings",
        ],
        &rows,
    ));
    body.push_str("<h2>Rules that claim no technique</h2>");
    body.push_str(&table(
        &["rule", "plugin", "title", "findings"],
        &report
            .rules_without_technique
            .iter()
            .map(|r| {
                vec![
                    r.id.clone(),
                    r.plugin.clone(),
                    r.title.clone(),
                    r.fired.to_string(),
                ]
            })
            .collect::<Vec<_>>(),
    ));
    if !report.plugins_without_catalog.is_empty() {
        let _ = write!(
            body,
            "<p class=\"meta\">Plugins without a rule catalog (not counted): {}</p>",
            escape(&report.plugins_without_catalog.join(", "))
        );
    }
    page(
        "trailwarden ATT&CK coverage",
        &report.period,
        report.account.as_deref(),
        &report.generated_at,
        &body,
    )
}

/// `report cis` as HTML.
pub fn cis(report: &CisReport) -> String {
    let mut body = String::from(
        "<p class=\"meta\">CIS AWS Foundations Benchmark, monitoring controls. Numbers: v1.4.0–v5.0.0 \
         (section 4), v6.0.0 and v7.0.0 (section 5, same numbers in both). Status: monitored-alerts (a loaded rule fired), \
         monitored-quiet (rules loaded, events arrived, nothing fired), not-monitored (no loaded rule), \
         no-data (no events from there in the period: the control cannot be claimed).</p>\
         <h2>Summary</h2>",
    );
    let mut rows = String::new();
    for c in &report.controls {
        let _ = write!(
            rows,
            "<tr class=\"s-{s}\"><td>{id}</td><td>{v6}</td><td>{title}</td><td>{status}</td><td class=\"n\">{f}</td><td class=\"n\">{a}</td><td>{rules}</td><td>{cov}</td></tr>",
            s = c.status.as_str(),
            id = escape(&c.id),
            v6 = escape(&c.v6),
            title = escape(&c.title),
            status = c.status.as_str(),
            f = c.findings,
            a = c.actions,
            rules = if c.implemented_by.is_empty() {
                "—".to_string()
            } else {
                escape(&c.implemented_by.join(", "))
            },
            cov = escape(&c.coverage),
        );
    }
    let _ = write!(
        body,
        "<table><thead><tr><th>CIS (v1.4–v5.0)</th><th>v6.0/v7.0</th><th>control</th><th>status</th>\
         <th>findings</th><th>actions</th><th>implemented by</th><th>coverage</th></tr></thead><tbody>{rows}</tbody></table>"
    );
    body.push_str("<h2>Evidence per account and region</h2>");
    for c in &report.controls {
        let _ = write!(
            body,
            "<h3>{} {}</h3><p class=\"meta\">Metric filter: <code>{}</code><br>EventBridge pattern: <code>{}</code>{}</p>",
            escape(&c.id),
            escape(&c.title),
            escape(&c.metric_filter),
            escape(&c.pattern.to_string()),
            c.note
                .as_ref()
                .map(|n| format!("<br>{}", escape(n)))
                .unwrap_or_default()
        );
        let mut rows = String::new();
        for e in &c.evidence {
            let _ = write!(
                rows,
                "<tr class=\"s-{s}\"><td>{acct}</td><td>{region}</td><td class=\"n\">{ev}</td><td class=\"n\">{f}</td><td class=\"n\">{a}</td><td>{s}</td></tr>",
                s = e.status.as_str(),
                acct = escape(&e.account),
                region = escape(&e.region),
                ev = e.events,
                f = e.findings,
                a = e.actions,
            );
        }
        if c.evidence.is_empty() {
            rows.push_str(&format!(
                "<tr class=\"s-no-data\"><td colspan=\"6\">no events from any account in the period ({})</td></tr>",
                Status::NoData.as_str()
            ));
        }
        let _ = write!(
            body,
            "<table><thead><tr><th>account</th><th>region</th><th>events</th><th>findings</th><th>actions</th><th>status</th></tr></thead><tbody>{rows}</tbody></table>"
        );
    }
    page(
        "trailwarden CIS AWS Foundations monitoring report",
        &report.period,
        report.account.as_deref(),
        &report.generated_at,
        &body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
