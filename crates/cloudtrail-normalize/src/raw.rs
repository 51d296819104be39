//! Measuring and capturing the raw text of an input without building more
//! than needed: size checks stop writing as soon as the limit is passed,
//! and dead-letter text is cut at the limit on a UTF-8 boundary.

use std::io;

use serde_json::Value;

/// `value` as compact JSON text, or `None` once it exceeds `limit` bytes (writing stops
/// there). The size check of a record that is kept as it came: its text is written once and
/// handed on (see [`crate::NormalizedEvent::record_text`]), not measured and then written again.
pub(crate) fn compact_within(value: &Value, limit: usize) -> Option<String> {
    let mut sink = Capped {
        buf: Vec::new(),
        limit,
    };
    serde_json::to_writer(&mut sink, value).ok()?;
    // serde_json writes UTF-8; checked rather than assumed (no `unsafe` here).
    String::from_utf8(sink.buf).ok()
}

/// Compact JSON text of `value`, truncated to at most `limit` bytes.
pub(crate) fn compact_text(value: &Value, limit: usize) -> String {
    let mut sink = Capped {
        buf: Vec::new(),
        limit,
    };
    // An error only means the cap was reached; what was written is kept.
    let _ = serde_json::to_writer(&mut sink, value);
    truncate_lossy(&sink.buf, limit)
}

/// `bytes` as text, lossily decoded and cut to at most `limit` bytes without
/// splitting a character.
pub(crate) fn truncate_lossy(bytes: &[u8], limit: usize) -> String {
    let mut end = bytes.len().min(limit);
    // Back off over UTF-8 continuation bytes (at most 3) so the cut does not
    // split a character into a replacement character.
    let mut backed = 0;
    while end < bytes.len() && end > 0 && backed < 3 && (bytes[end] & 0xC0) == 0x80 {
        end -= 1;
        backed += 1;
    }
    let mut text = String::from_utf8_lossy(&bytes[..end]).into_owned();
    // Replacement characters for invalid bytes take 3 bytes each and can push
    // the text past the limit: trim back to a boundary within it.
    if text.len() > limit {
        let mut cut = limit;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}

/// Keeps the first `limit` bytes and fails after that.
struct Capped {
    buf: Vec<u8>,
    limit: usize,
}

impl io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = self.limit.saturating_sub(self.buf.len());
        if room == 0 {
            return Err(io::Error::other("cap reached"));
        }
        let take = room.min(buf.len());
        self.buf.extend_from_slice(&buf[..take]);
        Ok(take)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_respects_char_boundaries() {
        let s = "aé😀b".as_bytes();
        for limit in 0..=s.len() + 1 {
            let t = truncate_lossy(s, limit);
            assert!(t.len() <= limit, "{limit}: {t:?}");
            assert!(!t.contains('\u{FFFD}'), "{limit}: {t:?}");
        }
        assert_eq!(truncate_lossy(s, 100), "aé😀b");
    }

    #[test]
    fn invalid_bytes_stay_within_limit() {
        let t = truncate_lossy(&[0xff; 10], 5);
        assert!(t.len() <= 5);
    }

    #[test]
    fn compact_within_and_text() {
        let v = serde_json::json!({"a": [1, 2, "x"]});
        let full = serde_json::to_string(&v).unwrap();
        assert_eq!(compact_within(&v, 1000).as_deref(), Some(full.as_str()));
        assert_eq!(
            compact_within(&v, full.len()).as_deref(),
            Some(full.as_str())
        );
        assert_eq!(compact_within(&v, full.len() - 1), None);
        assert_eq!(compact_text(&v, 1000), full);
        assert_eq!(compact_text(&v, 4), &full[..4]);
    }
}
