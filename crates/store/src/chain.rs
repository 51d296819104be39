//! Tamper evidence: findings, action decisions and the action log are hash chains.
//!
//! Each chained row carries its place in the chain (`chain_seq`, 1, 2, ...), the hash of the
//! row before it (`chain_prev`) and its own hash (`chain_hash` = sha256 of `chain_prev`, a
//! newline, and the JSON array of its content columns as stored). `chain_heads` keeps each
//! chain's last link, so that deleting the newest rows shows too. A row is sealed by the
//! store that wrote it, in the same transaction as its insert ([`seal`]), whoever calls the
//! store. `trailwarden audit verify` walks every chain ([`verify`]) and names the first row
//! deleted, altered or added behind the stores' backs.
//!
//! This makes edits evident, not impossible: someone who can write the database and knows
//! this scheme can rebuild a chain. Keeping `audit verify`'s head hashes elsewhere (a ticket,
//! a log shipped off the host) pins what existed then.

use anyhow::{Context, Result};
use rusqlite::types::Value;
use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};

/// One chained table, as the store that writes it defines it.
pub struct Chain {
    pub table: &'static str,
    /// The column that names a row in reports.
    pub key: &'static str,
    /// The columns whose values are hashed, in this order. They never change after insert.
    pub content: &'static [&'static str],
}

const HEADS: &str = "CREATE TABLE IF NOT EXISTS chain_heads (
    chain TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
)";

/// Adds the chain columns to `chain`'s table (if missing) and the heads table, then seals
/// rows written before chaining existed, oldest first. Idempotent.
///
/// # Errors
/// The schema cannot be changed or the rows read or written.
pub fn prepare(conn: &Connection, chain: &Chain) -> Result<()> {
    // Under the write lock: two processes opening an older database together change it once.
    let own_transaction = conn.is_autocommit();
    if own_transaction {
        conn.execute_batch("BEGIN IMMEDIATE")?;
    }
    let prepared = add_chain(conn, chain);
    if own_transaction {
        let committed = match &prepared {
            Ok(()) => conn.execute_batch("COMMIT"),
            Err(_) => Ok(()),
        };
        // A failed commit leaves the transaction open: end it so no lock is kept.
        if prepared.is_err() || committed.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        committed?;
    }
    prepared
}

fn add_chain(conn: &Connection, chain: &Chain) -> Result<()> {
    conn.execute_batch(HEADS)?;
    let has_column = |name: &str| -> Result<bool> {
        let found: Option<i64> = conn
            .query_row(
                &format!(
                    "SELECT 1 FROM pragma_table_info('{}') WHERE name = ?1",
                    chain.table
                ),
                [name],
                |row| row.get(0),
            )
            .optional()?;
        Ok(found.is_some())
    };
    if !has_column("chain_seq")? {
        conn.execute_batch(&format!(
            "ALTER TABLE {t} ADD COLUMN chain_seq INTEGER;
             ALTER TABLE {t} ADD COLUMN chain_prev TEXT;
             ALTER TABLE {t} ADD COLUMN chain_hash TEXT;
             CREATE UNIQUE INDEX IF NOT EXISTS {t}_chain ON {t} (chain_seq);",
            t = chain.table
        ))
        .with_context(|| format!("cannot add the hash chain to {}", chain.table))?;
        // Rows from before chaining join it now, in the order they were written.
        let rowids: Vec<i64> = {
            let mut stmt = conn.prepare(&format!(
                "SELECT rowid FROM {} WHERE chain_seq IS NULL ORDER BY rowid",
                chain.table
            ))?;
            let rows = stmt.query_map([], |row| row.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        for rowid in rowids {
            seal(conn, chain, rowid)?;
        }
    }
    Ok(())
}

/// Runs `write` (an insert and its [`seal`]) as one unit, inside the caller's transaction
/// if there is one.
///
/// # Errors
/// `write` fails (everything it did is undone), or the savepoint cannot be taken.
pub fn atomically<T>(conn: &Connection, write: impl FnOnce() -> Result<T>) -> Result<T> {
    // Outside a transaction the savepoint opens one and its release commits it; a release
    // that fails (disk full) must still end it, or the connection keeps the write lock and
    // every other writer of the database waits on it for good.
    let own_transaction = conn.is_autocommit();
    conn.execute_batch("SAVEPOINT chain_link")?;
    let written = write().and_then(|value| {
        conn.execute_batch("RELEASE chain_link")?;
        Ok(value)
    });
    if written.is_err() {
        if own_transaction {
            let _ = conn.execute_batch("ROLLBACK");
        } else {
            let _ = conn.execute_batch("ROLLBACK TO chain_link; RELEASE chain_link");
        }
    }
    written
}

/// Links the row at `rowid` (just inserted) to the end of its chain. Call it in the
/// transaction of the insert, so that the row and its link commit together.
///
/// # Errors
/// The row cannot be read, or the link written.
pub fn seal(conn: &Connection, chain: &Chain, rowid: i64) -> Result<()> {
    let values = content_of(conn, chain, rowid)?;
    let (seq, prev): (i64, String) = conn
        .prepare_cached("SELECT seq, hash FROM chain_heads WHERE chain = ?1")?
        .query_row([chain.table], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?
        .unwrap_or((0, String::new()));
    let hash = link_hash(&prev, &values);
    conn.prepare_cached(&format!(
        "UPDATE {} SET chain_seq = ?2, chain_prev = ?3, chain_hash = ?4 WHERE rowid = ?1",
        chain.table
    ))?
    .execute(params![rowid, seq + 1, prev, hash])?;
    write_head(conn, chain, seq + 1, &hash)
}

/// A chain's last link, read once by a writer that appends several rows in one transaction
/// ([`Links`]), so each row is hashed from the values it binds, never read back.
pub struct Links {
    chain: &'static Chain,
    seq: i64,
    hash: String,
    moved: bool,
}

impl Links {
    /// Reads `chain`'s head. Call it inside the write transaction (`BEGIN IMMEDIATE`) that
    /// appends the rows and then [`Links::finish`]es, so no other writer moves the head
    /// in between.
    ///
    /// # Errors
    /// The head cannot be read.
    pub fn start(conn: &Connection, chain: &'static Chain) -> Result<Links> {
        let (seq, hash): (i64, String) = conn
            .prepare_cached("SELECT seq, hash FROM chain_heads WHERE chain = ?1")?
            .query_row([chain.table], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?
            .unwrap_or((0, String::new()));
        Ok(Links {
            chain,
            seq,
            hash,
            moved: false,
        })
    }

    /// The next link for a row whose content columns (in [`Chain::content`] order) hold
    /// `content`, exactly as bound: (`chain_seq`, `chain_hash`); `chain_prev` is
    /// [`Links::head_hash`]. The head moves only by [`Links::advance`], once the row is
    /// known to be inserted.
    pub fn next(&self, content: &[Option<&str>]) -> (i64, String) {
        debug_assert_eq!(content.len(), self.chain.content.len());
        (self.seq + 1, text_link_hash(&self.hash, content))
    }

    /// [`Links::next`] for a chain whose content columns hold integers too: `content` as
    /// bound, each a [`Cell`].
    pub fn next_cells(&self, content: &[Cell<'_>]) -> (i64, String) {
        debug_assert_eq!(content.len(), self.chain.content.len());
        (self.seq + 1, hash_link(&self.hash, content))
    }

    /// The hash of the last link: the next row's `chain_prev`.
    pub fn head_hash(&self) -> &str {
        &self.hash
    }

    /// Moves the head to the row just inserted with [`Links::next`]'s link.
    pub fn advance(&mut self, seq: i64, hash: String) {
        self.seq = seq;
        self.hash = hash;
        self.moved = true;
    }

    /// Writes the head, once for all the rows appended.
    ///
    /// # Errors
    /// The write fails.
    pub fn finish(self, conn: &Connection) -> Result<()> {
        if self.moved {
            write_head(conn, self.chain, self.seq, &self.hash)?;
        }
        Ok(())
    }
}

/// A content column's value as bound, hashed as [`link_hash`] hashes it read back: text
/// as a JSON string, an integer as a JSON number, NULL as `null`.
#[derive(Debug, Clone, Copy)]
pub enum Cell<'a> {
    Text(Option<&'a str>),
    Integer(Option<i64>),
}

impl serde::Serialize for Cell<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match *self {
            Cell::Text(Some(text)) => serializer.serialize_str(text),
            Cell::Integer(Some(n)) => serializer.serialize_i64(n),
            Cell::Text(None) | Cell::Integer(None) => serializer.serialize_unit(),
        }
    }
}

/// Appends rows to `chain` as one unit: `write` inserts them, each with its link from
/// [`Links::next_cells`] (or [`Links::next`]) and [`Links::advance`]; the head is written
/// once at the end. Outside a transaction it takes the write lock first (`BEGIN
/// IMMEDIATE`), so the head it reads is the one it extends; inside one, the caller's
/// transaction must hold the write lock already.
///
/// # Errors
/// `write` fails or the head cannot be read or written: nothing is appended.
pub fn appending<T>(
    conn: &Connection,
    chain: &'static Chain,
    write: impl FnOnce(&mut Links) -> Result<T>,
) -> Result<T> {
    let linked = || {
        let mut links = Links::start(conn, chain)?;
        let value = write(&mut links)?;
        links.finish(conn)?;
        Ok(value)
    };
    if !conn.is_autocommit() {
        return atomically(conn, linked);
    }
    conn.execute_batch("BEGIN IMMEDIATE")?;
    // A failed commit (disk full) leaves the transaction open, holding the write lock: end
    // it, so every other writer of the database can go on.
    let committed = linked().and_then(|value| {
        conn.execute_batch("COMMIT")
            .map(|()| value)
            .map_err(Into::into)
    });
    if committed.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    committed
}

fn write_head(conn: &Connection, chain: &Chain, seq: i64, hash: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO chain_heads (chain, seq, hash) VALUES (?1, ?2, ?3)
         ON CONFLICT (chain) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
    )?
    .execute(params![chain.table, seq, hash])?;
    Ok(())
}

/// [`link_hash`] of text (or NULL) columns, without building SQLite or JSON values: the
/// same bytes, since `None` serialises as `null` and `Some(text)` as a JSON string (this
/// runs once per finding recorded).
fn text_link_hash(prev: &str, content: &[Option<&str>]) -> String {
    hash_link(prev, content)
}

/// sha256(previous hash, newline, `content` as compact JSON), in hex; the JSON is written
/// straight into the hash.
fn hash_link<T: serde::Serialize + ?Sized>(prev: &str, content: &T) -> String {
    let mut hasher = HashWriter(Sha256::new());
    hasher.0.update(prev.as_bytes());
    hasher.0.update(b"\n");
    // Writing into a hash cannot fail.
    let _ = serde_json::to_writer(&mut hasher, content);
    hex::encode(hasher.0.finalize())
}

/// A hash that `serde_json` writes into.
struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn content_of(conn: &Connection, chain: &Chain, rowid: i64) -> Result<Vec<Value>> {
    let columns = chain.content.join(", ");
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {columns} FROM {} WHERE rowid = ?1",
            chain.table
        ))?
        .query_row([rowid], |row| {
            (0..chain.content.len())
                .map(|i| row.get::<_, Value>(i))
                .collect()
        })?)
}

/// sha256(previous hash, newline, the content as a JSON array), in hex.
fn link_hash(prev: &str, values: &[Value]) -> String {
    let content: Vec<serde_json::Value> = values
        .iter()
        .map(|value| match value {
            Value::Null => serde_json::Value::Null,
            Value::Integer(n) => serde_json::Value::from(*n),
            Value::Real(x) => serde_json::Value::from(*x),
            Value::Text(text) => serde_json::Value::from(text.as_str()),
            Value::Blob(bytes) => serde_json::Value::from(hex::encode(bytes)),
        })
        .collect();
    hash_link(prev, &content)
}

/// What walking one chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every row is in place and unaltered; the chain's last hash, to keep elsewhere.
    Intact { rows: u64, head: String },
    /// The first break, described for a person.
    Broken(String),
}

/// Walks `chain` from its first row and reports the first break: a row whose content no
/// longer matches its hash (altered), a gap in the sequence or a link to a hash that is not
/// the row before (deleted), rows after the recorded head missing, or a row outside the chain.
///
/// # Errors
/// The table cannot be read.
pub fn verify(conn: &Connection, chain: &Chain) -> Result<Verdict> {
    conn.execute_batch(HEADS)?;
    let t = chain.table;
    let outside: Option<String> = conn
        .query_row(
            &format!(
                "SELECT CAST({key} AS TEXT) FROM {t} WHERE chain_seq IS NULL ORDER BY rowid LIMIT 1",
                key = chain.key
            ),
            [],
            |row| row.get(0),
        )
        .optional()?;
    if let Some(key) = outside {
        return Ok(Verdict::Broken(format!(
            "{t} row {key} is not in the chain (written behind the store's back, or its link erased)"
        )));
    }
    let columns = chain.content.join(", ");
    let mut stmt = conn.prepare(&format!(
        "SELECT CAST({key} AS TEXT), chain_seq, chain_prev, chain_hash, {columns} FROM {t}
         ORDER BY chain_seq",
        key = chain.key
    ))?;
    let mut rows = stmt.query([])?;
    let mut expected_seq: i64 = 1;
    let mut prev = String::new();
    let mut last_key: Option<String> = None;
    while let Some(row) = rows.next()? {
        let key: String = row.get(0)?;
        let seq: i64 = row.get(1)?;
        let stored_prev: Option<String> = row.get(2)?;
        let stored_hash: Option<String> = row.get(3)?;
        let values: Vec<Value> = (0..chain.content.len())
            .map(|i| row.get::<_, Value>(4 + i))
            .collect::<Result<_, _>>()?;
        let after = last_key
            .as_deref()
            .map_or("the start".to_string(), |k| format!("row {k}"));
        if seq != expected_seq {
            let missing = if seq == expected_seq + 1 {
                format!("link {expected_seq} is")
            } else {
                format!("links {expected_seq} to {} are", seq - 1)
            };
            return Ok(Verdict::Broken(format!(
                "{t}: {missing} missing between {after} and row {key}: deleted"
            )));
        }
        if stored_prev.as_deref() != Some(prev.as_str()) {
            return Ok(Verdict::Broken(format!(
                "{t} row {key} (link {seq}) does not follow {after}: a row before it was deleted or altered"
            )));
        }
        if stored_hash.as_deref() != Some(link_hash(&prev, &values).as_str()) {
            return Ok(Verdict::Broken(format!(
                "{t} row {key} (link {seq}) was altered: its content no longer matches its hash"
            )));
        }
        prev = stored_hash.unwrap_or_default();
        last_key = Some(key);
        expected_seq += 1;
    }
    let rows = u64::try_from(expected_seq - 1).unwrap_or(0);
    let head: Option<(i64, String)> = conn
        .query_row(
            "SELECT seq, hash FROM chain_heads WHERE chain = ?1",
            [t],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    let (head_seq, head_hash) = head.unwrap_or((0, String::new()));
    if head_seq != expected_seq - 1 || head_hash != prev {
        let after = last_key.map_or("the start".to_string(), |k| format!("row {k}"));
        return Ok(Verdict::Broken(if head_seq > expected_seq - 1 {
            format!(
                "{t}: the newest {} row(s), after {after}, were deleted (the chain's head is link {head_seq})",
                head_seq - (expected_seq - 1)
            )
        } else {
            format!("{t}: the chain's recorded head does not match its last row ({after})")
        }));
    }
    Ok(Verdict::Intact { rows, head: prev })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOTES: Chain = Chain {
        table: "notes",
        key: "id",
        content: &["body", "n"],
    };

    fn notes() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, n INTEGER)")
            .unwrap();
        conn.execute(
            "INSERT INTO notes (body, n) VALUES ('before chaining', 0)",
            [],
        )
        .unwrap();
        prepare(&conn, &NOTES).unwrap();
        for i in 1..=4 {
            conn.execute(
                "INSERT INTO notes (body, n) VALUES (?1, ?2)",
                params![format!("note {i}"), i],
            )
            .unwrap();
            seal(&conn, &NOTES, conn.last_insert_rowid()).unwrap();
        }
        conn
    }

    #[test]
    fn a_link_hashed_from_text_is_the_link_verify_recomputes_from_the_row() {
        // Quotes, escapes, control characters, non-ASCII and NULL: every byte JSON writes
        // differently from the text must come out as `verify` writes it.
        let content = [
            Some("plain"),
            None,
            Some("quote \" backslash \\ slash / newline \n tab \t bell \u{7}"),
            Some("Zürich \u{1F512} \u{2028}"),
            Some(""),
        ];
        let as_values: Vec<Value> = content
            .iter()
            .map(|c| c.map_or(Value::Null, |t| Value::Text(t.to_string())))
            .collect();
        assert_eq!(
            text_link_hash("prev-hash", &content),
            link_hash("prev-hash", &as_values)
        );
        assert_ne!(
            text_link_hash("prev-hash", &content),
            text_link_hash("other-hash", &content)
        );
    }

    fn broken(conn: &Connection) -> String {
        match verify(conn, &NOTES).unwrap() {
            Verdict::Broken(why) => why,
            intact => panic!("not caught: {intact:?}"),
        }
    }

    #[test]
    fn an_untouched_chain_verifies_with_older_rows_included() {
        let conn = notes();
        assert!(matches!(
            verify(&conn, &NOTES).unwrap(),
            Verdict::Intact { rows: 5, .. }
        ));
        prepare(&conn, &NOTES).unwrap();
        assert!(matches!(
            verify(&conn, &NOTES).unwrap(),
            Verdict::Intact { rows: 5, .. }
        ));
    }

    #[test]
    fn an_altered_row_is_named() {
        let conn = notes();
        conn.execute("UPDATE notes SET n = 99 WHERE id = 3", [])
            .unwrap();
        assert_eq!(
            broken(&conn),
            "notes row 3 (link 3) was altered: its content no longer matches its hash"
        );
    }

    #[test]
    fn deleted_rows_are_named_in_the_middle_and_at_the_end() {
        let conn = notes();
        conn.execute("DELETE FROM notes WHERE id = 2", []).unwrap();
        assert_eq!(
            broken(&conn),
            "notes: link 2 is missing between row 1 and row 3: deleted"
        );
        let conn = notes();
        conn.execute("DELETE FROM notes WHERE id = 5", []).unwrap();
        assert!(broken(&conn).starts_with("notes: the newest 1 row(s), after row 4, were deleted"));
    }

    #[test]
    fn a_row_relinked_by_hand_or_added_unsealed_is_caught() {
        let conn = notes();
        // Link 2 deleted and row 3 renumbered into its place: the sequence has no gap there,
        // but row 3's link names the deleted row's hash.
        conn.execute_batch(
            "DELETE FROM notes WHERE id = 2; UPDATE notes SET chain_seq = 2 WHERE id = 3;",
        )
        .unwrap();
        assert!(
            broken(&conn).contains("does not follow row 1"),
            "{}",
            broken(&conn)
        );
        let conn = notes();
        conn.execute("INSERT INTO notes (body, n) VALUES ('forged', 7)", [])
            .unwrap();
        assert!(broken(&conn).starts_with("notes row 6 is not in the chain"));
    }
}
