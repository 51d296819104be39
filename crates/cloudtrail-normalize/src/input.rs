//! From bytes to JSON documents: gzip detection, then one whole document or,
//! failing that, JSON lines.

use std::borrow::Cow;
use std::io::Read;

use flate2::read::MultiGzDecoder;
use serde::de::IgnoredAny;
use serde_json::Value;

use crate::reasons::{RejectReason, SkipReason};
use crate::walk::{Loc, Walker};

/// The two bytes every gzip stream starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Gzip layers unwrapped at most: Firehose re-compresses CloudWatch Logs
/// subscription data, which is gzip already.
const MAX_GZIP_LAYERS: usize = 3;

/// Why the bytes could not be turned into text.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DecodeError {
    #[error("gzip stream is corrupt or truncated after {} decompressed bytes: {source}", partial.len())]
    Gzip {
        source: std::io::Error,
        /// What was decompressed before the failure, kept for dead-lettering.
        partial: Vec<u8>,
    },
}

/// Unwraps gzip layers (recognised by their magic bytes, not a file name).
///
/// # Errors
///
/// [`DecodeError::Gzip`] when a gzip layer does not decompress to its end.
pub(crate) fn decompress(bytes: &[u8]) -> Result<Cow<'_, [u8]>, DecodeError> {
    let mut data = Cow::Borrowed(bytes);
    for _ in 0..MAX_GZIP_LAYERS {
        if !data.starts_with(&GZIP_MAGIC) {
            break;
        }
        let mut out = Vec::new();
        if let Err(source) = MultiGzDecoder::new(&data[..]).read_to_end(&mut out) {
            return Err(DecodeError::Gzip {
                source,
                partial: out,
            });
        }
        data = Cow::Owned(out);
    }
    Ok(data)
}

impl Walker<'_> {
    /// Decompresses if needed, then reads the text.
    pub(crate) fn bytes(&mut self, bytes: &[u8]) {
        match decompress(bytes) {
            Ok(data) => self.text(&data),
            Err(error) => {
                let detail = error.to_string();
                let DecodeError::Gzip { partial, .. } = error;
                self.reject_text(RejectReason::InvalidGzip, detail, &partial);
            }
        }
    }

    /// One whole JSON document, else JSON lines.
    fn text(&mut self, data: &[u8]) {
        let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
        if data.iter().all(u8::is_ascii_whitespace) {
            self.skip(SkipReason::EmptyInput, "empty input, no events".to_owned());
            return;
        }
        match serde_json::from_slice::<Value>(data) {
            Ok(value) => self.document(value, &Loc::Root, 0),
            Err(whole) => {
                if looks_like_json_lines(data) {
                    self.json_lines(data);
                } else {
                    // One broken document: one reject, not one per line of a
                    // pretty-printed file.
                    self.reject_text(
                        RejectReason::InvalidJson,
                        format!("not valid JSON: {whole}"),
                        data,
                    );
                }
            }
        }
    }

    /// Each non-blank line is a document (or several concatenated ones); a
    /// line that does not parse is one `invalid_json` reject naming its
    /// 1-based line number, and the other lines still come through.
    fn json_lines(&mut self, data: &[u8]) {
        for (index, line) in data.split(|b| *b == b'\n').enumerate() {
            let line = line.trim_ascii();
            if line.is_empty() {
                continue;
            }
            let number = index + 1;
            let loc = Loc::Line(number);
            for parsed in serde_json::Deserializer::from_slice(line).into_iter::<Value>() {
                match parsed {
                    Ok(value) => self.document(value, &loc, 0),
                    Err(e) => {
                        let detail = format!("line {number}: not valid JSON: {}", in_line(&e));
                        self.reject_text(RejectReason::InvalidJson, detail, line);
                        break;
                    }
                }
            }
        }
    }
}

/// Whether some non-blank line is a complete JSON text by itself. A broken
/// pretty-printed document has no such line (its lines are fragments like
/// `"key": 1,`), JSON lines with one bad line still have good ones.
fn looks_like_json_lines(data: &[u8]) -> bool {
    data.split(|b| *b == b'\n').any(|line| {
        let line = line.trim_ascii();
        if line.is_empty() {
            return false;
        }
        let mut stream = serde_json::Deserializer::from_slice(line).into_iter::<IgnoredAny>();
        let mut any = false;
        for parsed in stream.by_ref() {
            if parsed.is_err() {
                return false;
            }
            any = true;
        }
        any
    })
}

/// A serde_json error for one line, without its always-"line 1" position.
fn in_line(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    match text.strip_suffix(&suffix) {
        Some(message) if error.line() == 1 => format!("{message} at column {}", error.column()),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_detection() {
        assert!(looks_like_json_lines(b"{\"a\":1}\n{\"b\":"));
        assert!(looks_like_json_lines(b"{\"b\":\n{\"a\":1}"));
        assert!(!looks_like_json_lines(b"{\n  \"a\": 1,\n  \"b\": [\n"));
        assert!(!looks_like_json_lines(b"\n\n"));
    }

    #[test]
    fn gzip_layers() {
        use flate2::{write::GzEncoder, Compression};
        use std::io::Write;
        let gz = |data: &[u8]| {
            let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
            enc.write_all(data).unwrap();
            enc.finish().unwrap()
        };
        let twice = gz(&gz(b"{}"));
        assert_eq!(&*decompress(&twice).unwrap(), b"{}");
        assert!(decompress(&twice[..twice.len() - 4]).is_err());
        assert_eq!(&*decompress(b"plain").unwrap(), b"plain");
    }
}
