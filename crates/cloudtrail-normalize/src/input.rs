//! From bytes to JSON documents: gzip detection, then one whole document or,
//! failing that, JSON lines.

use std::borrow::Cow;
use std::io::{BufRead, BufReader, Read};

use flate2::read::MultiGzDecoder;
use serde::de::IgnoredAny;
use serde_json::Value;

use crate::reasons::{RejectReason, SkipReason};
use crate::walk::{Loc, Walker};
use crate::Options;

/// The two bytes every gzip stream starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Gzip layers unwrapped at most: Firehose re-compresses CloudWatch Logs
/// subscription data, which is gzip already.
const MAX_GZIP_LAYERS: usize = 3;

/// Decompressed bytes always allowed, whatever the ratio: small inputs compress well.
pub(crate) const RATIO_FREE_BYTES: usize = 1024 * 1024;

/// Why the bytes could not be turned into text.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DecodeError {
    #[error("gzip stream is corrupt or truncated after {} decompressed bytes: {source}", partial.len())]
    Gzip {
        source: std::io::Error,
        /// What was decompressed before the failure, kept for dead-lettering.
        partial: Vec<u8>,
    },
    /// Past the absolute cap on decompressed bytes.
    #[error("decompresses to more than the {limit}-byte limit on decompressed input")]
    TooLarge { limit: usize, partial: Vec<u8> },
    /// Past the ratio cap: far more output than any real log file gives for its size.
    #[error(
        "{compressed} compressed bytes expand past {limit} bytes, over the {ratio}:1 ratio \
         allowed beyond the first MiB (a decompression bomb)"
    )]
    Bomb {
        compressed: usize,
        ratio: usize,
        limit: usize,
        partial: Vec<u8>,
    },
}

impl DecodeError {
    fn into_reject(self) -> (RejectReason, String, Vec<u8>) {
        let detail = self.to_string();
        match self {
            DecodeError::Gzip { partial, .. } => (RejectReason::InvalidGzip, detail, partial),
            DecodeError::TooLarge { partial, .. } => (RejectReason::TooLarge, detail, partial),
            DecodeError::Bomb { partial, .. } => (RejectReason::DecompressionBomb, detail, partial),
        }
    }
}

/// Unwraps gzip layers (recognised by their magic bytes, not a file name) as one stream,
/// reading at most the smaller of [`Options::max_input_bytes`] and
/// `max_expansion_ratio` times the input's size (but at least [`RATIO_FREE_BYTES`]), so a
/// few kilobytes cannot make gigabytes. Plain input is returned as it is: its reader
/// bounds it (request body limit, S3 object limit).
///
/// # Errors
///
/// [`DecodeError::Gzip`] when a gzip layer does not decompress to its end,
/// [`DecodeError::TooLarge`] or [`DecodeError::Bomb`] when the output passes a cap.
pub(crate) fn decompress<'a>(
    bytes: &'a [u8],
    options: &Options,
) -> Result<Cow<'a, [u8]>, DecodeError> {
    if !bytes.starts_with(&GZIP_MAGIC) {
        return Ok(Cow::Borrowed(bytes));
    }
    let by_ratio = bytes
        .len()
        .saturating_mul(options.max_expansion_ratio)
        .max(RATIO_FREE_BYTES);
    let limit = by_ratio.min(options.max_input_bytes);
    let mut reader: Box<dyn BufRead + 'a> = Box::new(BufReader::new(MultiGzDecoder::new(bytes)));
    for _ in 1..MAX_GZIP_LAYERS {
        match reader.fill_buf() {
            Ok(head) if head.starts_with(&GZIP_MAGIC) => {
                reader = Box::new(BufReader::new(MultiGzDecoder::new(reader)));
            }
            Ok(_) => break,
            Err(source) => {
                return Err(DecodeError::Gzip {
                    source,
                    partial: Vec::new(),
                })
            }
        }
    }
    let mut out = Vec::new();
    // One byte past the limit tells "exactly at the limit" from "over it".
    if let Err(source) = reader.take(limit as u64 + 1).read_to_end(&mut out) {
        return Err(DecodeError::Gzip {
            source,
            partial: out,
        });
    }
    if out.len() > limit {
        out.truncate(RATIO_FREE_BYTES.min(limit));
        return Err(if limit == options.max_input_bytes {
            DecodeError::TooLarge {
                limit,
                partial: out,
            }
        } else {
            DecodeError::Bomb {
                compressed: bytes.len(),
                ratio: options.max_expansion_ratio,
                limit,
                partial: out,
            }
        });
    }
    Ok(Cow::Owned(out))
}

impl Walker<'_> {
    /// Decompresses if needed, then reads the text.
    pub(crate) fn bytes(&mut self, bytes: &[u8]) {
        match decompress(bytes, self.options) {
            Ok(data) => self.text(&data),
            Err(error) => {
                let (reason, detail, partial) = error.into_reject();
                self.reject_text(reason, detail, &partial);
            }
        }
    }

    /// One whole JSON document, else JSON lines.
    pub(crate) fn text(&mut self, data: &[u8]) {
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
                    Err(_) if self.counted_only(RejectReason::InvalidJson) => break,
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
        let options = Options::default();
        let twice = gz(&gz(b"{}"));
        assert_eq!(&*decompress(&twice, &options).unwrap(), b"{}");
        assert!(decompress(&twice[..twice.len() - 4], &options).is_err());
        assert_eq!(&*decompress(b"plain", &options).unwrap(), b"plain");
        let thrice = gz(&gz(&gz(b"{}")));
        assert_eq!(&*decompress(&thrice, &options).unwrap(), b"{}");

        // Zeros: the ratio cap stops them past the first MiB.
        let zeros = gz(&gz(&vec![0u8; 8 * 1024 * 1024]));
        let error = decompress(&zeros, &options).unwrap_err();
        assert!(matches!(error, DecodeError::Bomb { .. }), "{error}");
        assert!(error.to_string().contains("decompression bomb"), "{error}");
        // Exactly at the limit passes; one byte more is too large.
        let small = Options {
            max_input_bytes: 1000,
            max_expansion_ratio: usize::MAX,
            ..Options::default()
        };
        let exact = gz(&[b' '; 1000]);
        assert_eq!(decompress(&exact, &small).unwrap().len(), 1000);
        let over = gz(&[b' '; 1001]);
        let error = decompress(&over, &small).unwrap_err();
        assert!(
            matches!(error, DecodeError::TooLarge { limit: 1000, .. }),
            "{error}"
        );
    }
}
