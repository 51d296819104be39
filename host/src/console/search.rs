//! The findings list's text search through `console_text`, an FTS5 trigram index of each
//! finding's title, rule, principal and event id.
//!
//! A finding whose text holds the searched text holds each of its trigrams (FTS5 folds case
//! for them, so this holds for LIKE's ASCII-only folding too): any set of those trigrams
//! finds a superset of the matches, and the LIKE the list applies after it decides. So the
//! question is only which trigrams are cheapest to ask for. FTS5 reads a common trigram's
//! whole posting list (a third of a second for one in every finding, at a million), so the
//! search first counts a few of them, each up to `COMMON`, and asks for the rarest; only
//! when every trigram is common does it ask for the whole text as a phrase.

use anyhow::Result;
use rusqlite::{params, Connection};

/// A trigram in at least this many findings is common: not worth reading if a rarer one
/// narrows the search.
const COMMON: i64 = 5000;
/// The most trigrams counted for one search (spread over the text).
const MAX_PROBES: usize = 16;
/// The most trigrams a search asks for together.
const MAX_TERMS: usize = 3;

/// The FTS5 query narrowing a search for `text`, or `None` when the index cannot help
/// (under three characters, or a NUL): the LIKE alone decides, over every finding.
///
/// # Errors
/// Reading the index fails.
pub(super) fn match_expression(conn: &Connection, text: &str) -> Result<Option<String>> {
    if text.contains('\0') {
        return Ok(None);
    }
    let chars: Vec<char> = text.chars().collect();
    if chars.len() < 3 {
        return Ok(None);
    }
    let mut trigrams: Vec<String> = chars
        .windows(3)
        .map(|w| w.iter().collect::<String>())
        .collect();
    // FTS5 folds case for its trigrams; so do these, to count each once.
    trigrams.sort_by_key(|t| t.to_lowercase());
    trigrams.dedup_by_key(|t| t.to_lowercase());
    let step = trigrams.len().div_ceil(MAX_PROBES);
    let mut probe = conn.prepare_cached(
        "SELECT COUNT(*) FROM (SELECT rowid FROM console_text WHERE console_text MATCH ?1
                               LIMIT ?2)",
    )?;
    let mut rare: Vec<(i64, String)> = Vec::new();
    for trigram in trigrams.iter().step_by(step) {
        let phrase = phrase(trigram);
        let n: i64 = probe.query_row(params![phrase, COMMON], |r| r.get(0))?;
        if n == 0 {
            // No finding holds this trigram: nothing matches.
            return Ok(Some(phrase));
        }
        if n < COMMON {
            rare.push((n, phrase));
        }
    }
    if rare.is_empty() {
        return Ok(Some(phrase(text)));
    }
    rare.sort();
    Ok(Some(
        rare.into_iter()
            .take(MAX_TERMS)
            .map(|(_, phrase)| phrase)
            .collect::<Vec<_>>()
            .join(" "),
    ))
}

/// `text` as one FTS5 phrase: quoted, a quote doubled; nothing inside is query syntax.
fn phrase(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}
