//! `trailwarden actions list`: the outbox's actions as a table or JSON, each with why it was
//! asked for (its finding's title, from the audit store), and the next command to type.

use std::io::Write;

use anyhow::Result;

use crate::audit::AuditStore;
use crate::respond::outbox::{ActionRecord, Outbox, Status};
use crate::table::{fit, Format};

/// Prints actions, newest first. In a table each action says why it was asked for (the
/// title of its plugin's finding on the event, from `audit` when given), why it was denied,
/// or how it failed; then the next command to type.
///
/// # Errors
/// The outbox or the audit store cannot be read.
pub fn list(
    outbox: &Outbox,
    audit: Option<&AuditStore>,
    query: &ListQuery<'_>,
    out: &mut dyn Write,
) -> Result<()> {
    let actions = outbox.list(query.status, query.limit)?;
    if query.format == Format::Json {
        writeln!(out, "{}", serde_json::to_string_pretty(&actions)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<16} {:<16} {} {} {} {} REASON",
        "ID",
        "STATUS",
        fit("CAPABILITY", 26),
        fit("PLUGIN", 22),
        fit("RESOURCE", 40),
        fit("EVENT", 24),
    )?;
    for a in &actions {
        writeln!(
            out,
            "{:<16} {:<16} {} {} {} {} {}",
            a.id,
            a.status,
            fit(&a.capability, 26),
            fit(&a.plugin, 22),
            fit(&a.resource, 40),
            fit(&a.event_id, 24),
            reason(a, audit)?
        )?;
    }
    let config = query
        .config
        .map(|c| format!(" --config {}", c.display()))
        .unwrap_or_default();
    if actions.iter().any(|a| a.status == Status::PendingApproval) {
        writeln!(
            out,
            "approve with: trailwarden actions approve ID{config}   (or reject ID)"
        )?;
    }
    if actions.iter().any(|a| a.status == Status::Failed) {
        writeln!(
            out,
            "run a failed action again with: trailwarden actions retry ID{config}"
        )?;
    }
    if actions.iter().any(|a| a.status == Status::DryRun) {
        writeln!(
            out,
            "dry_run: recorded, never executed; a plugin's `mode` (enforce, approve) in the config changes that"
        )?;
    }
    Ok(())
}

/// `actions list`'s filters and output.
pub struct ListQuery<'a> {
    pub status: Option<Status>,
    pub limit: Option<usize>,
    pub format: Format,
    /// The config named on the command line, repeated in the hints printed after the table.
    pub config: Option<&'a std::path::Path>,
}

/// The REASON column: a denial's or failure's reason, else the finding that asked for it.
fn reason(action: &ActionRecord, audit: Option<&AuditStore>) -> Result<String> {
    if let Some(text) = action.reason.as_deref().or(action.error.as_deref()) {
        return Ok(text.to_string());
    }
    let title = match audit {
        Some(audit) => audit.finding_title(&action.plugin, &action.event_id)?,
        None => None,
    };
    Ok(title.unwrap_or_default())
}
