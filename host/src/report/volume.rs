//! Event volume: how many events arrived per day, account, region and source.
//!
//! The audit store keeps findings, not events, so without this a report could not tell an
//! account that was watched and quiet from one that sent nothing at all (a CIS control
//! cannot be claimed as monitored where no events arrived). The pipeline counts in memory
//! and writes the tallies at each flush: one upsert per (day, account, region, source), not
//! one row per event. The table lives in the audit database (the `volume` store).

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result};
use rusqlite::{params, Connection};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS event_volume (
    day TEXT NOT NULL,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    source TEXT NOT NULL,
    events INTEGER NOT NULL,
    PRIMARY KEY (day, account, region, source)
) WITHOUT ROWID;
";

/// The volume table as a store of the shared database (reports, which open the file
/// read-mostly through `ReportDb`, create it with the same `IF NOT EXISTS` SQL if missing).
const STORE_SCHEMA: trailwarden_store::Schema<&str> = trailwarden_store::Schema {
    store: "volume",
    migrations: &[SCHEMA],
    synchronous: trailwarden_store::Synchronous::Normal,
    mirrors_user_version: false,
};

/// Key of one tally: (day `YYYY-MM-DD` of the event time, account, region, source kind).
type VolumeKey = (String, String, String, String);

/// Counts events in memory and adds them to `event_volume` on [`VolumeRecorder::commit`].
pub struct VolumeRecorder {
    conn: Connection,
    pending: HashMap<VolumeKey, u64>,
}

impl VolumeRecorder {
    /// Opens (creating if needed) the `event_volume` table in the database at `path`.
    ///
    /// # Errors
    /// The database cannot be opened or the table created.
    pub fn open(path: &Path) -> Result<VolumeRecorder> {
        let conn = trailwarden_store::open(path, &STORE_SCHEMA)
            .with_context(|| format!("cannot open {} for event volume", path.display()))?;
        Ok(VolumeRecorder {
            conn,
            pending: HashMap::new(),
        })
    }

    /// Counts one event. `origin` is where it came from (a file, `stdin`, `http:ADDR`,
    /// `sqs:ID`, `s3://...`); only its kind is kept, so file names do not multiply rows.
    pub fn count(
        &mut self,
        time: Option<&str>,
        account: Option<&str>,
        region: Option<&str>,
        origin: &str,
    ) {
        // An event without a usable time (missing, or a placeholder) counts on the day it
        // arrived, as a finding without one is placed at the time it was recorded.
        let day = time
            .and_then(|t| t.get(..10))
            .filter(|day| is_day(day))
            .map_or_else(
                || crate::audit::now_rfc3339()[..10].to_string(),
                str::to_string,
            );
        let key = (
            day,
            account.unwrap_or("unknown").to_string(),
            region.unwrap_or("unknown").to_string(),
            source_kind(origin).to_string(),
        );
        *self.pending.entry(key).or_default() += 1;
    }

    /// Adds the pending tallies to the table, in one transaction.
    ///
    /// # Errors
    /// The write fails; the tallies are kept for the next commit.
    pub fn commit(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        {
            let mut upsert = tx.prepare_cached(
                "INSERT INTO event_volume (day, account, region, source, events)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (day, account, region, source) DO UPDATE SET events = events + ?5",
            )?;
            for ((day, account, region, source), events) in &self.pending {
                upsert.execute(params![day, account, region, source, *events as i64])?;
            }
        }
        tx.commit()?;
        self.pending.clear();
        Ok(())
    }
}

/// `YYYY-MM-DD` in digits.
fn is_day(text: &str) -> bool {
    text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        })
}

/// Creates the table if missing (reports call it too, so an older database reads as empty).
///
/// # Errors
/// The statement fails.
pub fn ensure_schema(conn: &Connection) -> Result<()> {
    conn.execute_batch(SCHEMA)?;
    Ok(())
}

/// `http:127.0.0.1:9` -> `http`, `s3://b/k` -> `s3`, `sqs:ID` -> `sqs`, `stdin`, else `file`.
fn source_kind(origin: &str) -> &'static str {
    if origin.starts_with("s3://") {
        "s3"
    } else if origin.starts_with("http:") {
        "http"
    } else if origin.starts_with("sqs:") {
        "sqs"
    } else if origin == "stdin" || origin == "-" {
        "stdin"
    } else {
        "file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tallies_add_up_across_commits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.db");
        let mut recorder = VolumeRecorder::open(&path).unwrap();
        for _ in 0..3 {
            recorder.count(
                Some("2024-01-02T03:04:05Z"),
                Some("111122223333"),
                Some("eu-west-1"),
                "/logs/a.json.gz",
            );
        }
        recorder.commit().unwrap();
        recorder.count(Some("..."), None, None, "http:127.0.0.1:1");
        recorder.count(
            Some("2024-01-02T09:00:00Z"),
            Some("111122223333"),
            Some("eu-west-1"),
            "/logs/b.json",
        );
        recorder.commit().unwrap();
        let conn = Connection::open(&path).unwrap();
        let rows: Vec<(String, String, String, String, i64)> = conn
            .prepare("SELECT day, account, region, source, events FROM event_volume ORDER BY day")
            .unwrap()
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            vec![
                (
                    "2024-01-02".into(),
                    "111122223333".into(),
                    "eu-west-1".into(),
                    "file".into(),
                    4
                ),
                (
                    crate::audit::now_rfc3339()[..10].to_string(),
                    "unknown".into(),
                    "unknown".into(),
                    "http".into(),
                    1
                ),
            ]
        );
    }
}
