//! How search results are printed: rows as a table, JSON lines or CSV; counts per group
//! or interval the same three ways.

use std::io::Write;

use cloudtrail_normalize::NormalizedEvent;
use serde_json::{Map, Value};

use super::fields::FieldPath;
use crate::output::fit;

/// `--format` of `search`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RowFormat {
    Table,
    Jsonl,
    Csv,
}

/// The columns of a table or CSV without `--fields`.
pub const DEFAULT_FIELDS: &str = "time,account,region,detail.eventSource,detail.eventName,detail.userIdentity.arn,detail.sourceIPAddress,detail.errorCode";

/// Width of a table column (values are cut with an ellipsis; JSON lines have them whole).
const COLUMN_WIDTH: usize = 28;

/// The header line of a table or CSV (nothing for JSON lines).
pub fn header(fields: &[FieldPath], format: RowFormat) -> Option<String> {
    let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
    match format {
        RowFormat::Table => Some(table_line(names.iter().map(|n| n.to_uppercase()))),
        RowFormat::Csv => Some(csv_line(names.iter().map(|n| n.to_string()))),
        RowFormat::Jsonl => None,
    }
}

/// One event as a line. JSON lines without fields is the CloudTrail record itself (so the
/// output can be searched or replayed again); with fields, an object keyed by path.
pub fn write_row(
    out: &mut Vec<u8>,
    event: &NormalizedEvent,
    fields: Option<&[FieldPath]>,
    format: RowFormat,
) {
    let line = match (format, fields) {
        (RowFormat::Jsonl, None) => event.raw_json(),
        (RowFormat::Jsonl, Some(fields)) => {
            let mut object = Map::new();
            for field in fields {
                object.insert(
                    field.name.clone(),
                    field.value_in(event).unwrap_or(Value::Null),
                );
            }
            Value::Object(object).to_string()
        }
        (RowFormat::Table, Some(fields)) => table_line(fields.iter().map(|f| f.text_in(event))),
        (RowFormat::Csv, Some(fields)) => csv_line(fields.iter().map(|f| f.text_in(event))),
        // The caller always passes fields for tables and CSV.
        (_, None) => event.raw_json(),
    };
    out.extend_from_slice(line.as_bytes());
    out.push(b'\n');
}

fn table_line(cells: impl Iterator<Item = String>) -> String {
    let cells: Vec<String> = cells.collect();
    let last = cells.len().saturating_sub(1);
    cells
        .iter()
        .enumerate()
        .map(|(i, cell)| {
            if i == last {
                cell.replace(['\n', '\r', '\t'], " ")
            } else {
                fit(&cell.replace(['\n', '\r', '\t'], " "), COLUMN_WIDTH)
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// RFC 4180: quoted when holding a comma, quote or line break; cells that a spreadsheet
/// would run as a formula (`=`, `+`, `-`, `@` first) are prefixed with `'`.
fn csv_line(cells: impl Iterator<Item = String>) -> String {
    cells.map(|c| csv_cell(&c)).collect::<Vec<_>>().join(",")
}

fn csv_cell(cell: &str) -> String {
    let cell = if cell.len() > 1 && cell.starts_with(['=', '+', '-', '@']) {
        format!("'{cell}")
    } else {
        cell.to_string()
    };
    if cell.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell
    }
}

/// Counts per key (`--group-by`, `--timeline`) with a COUNT column.
///
/// # Errors
/// The writer fails.
pub fn write_counts(
    out: &mut dyn Write,
    names: &[String],
    rows: &[(Vec<String>, u64)],
    format: RowFormat,
) -> std::io::Result<()> {
    match format {
        RowFormat::Jsonl => {
            for (key, count) in rows {
                let mut object = Map::new();
                for (name, value) in names.iter().zip(key) {
                    object.insert(name.clone(), Value::String(value.clone()));
                }
                object.insert("count".into(), Value::from(*count));
                writeln!(out, "{}", Value::Object(object))?;
            }
        }
        RowFormat::Csv => {
            let header = names.iter().cloned().chain(["count".to_string()]);
            writeln!(out, "{}", csv_line(header))?;
            for (key, count) in rows {
                writeln!(
                    out,
                    "{}",
                    csv_line(key.iter().cloned().chain([count.to_string()]))
                )?;
            }
        }
        RowFormat::Table => {
            let widths: Vec<usize> = (0..names.len())
                .map(|i| {
                    rows.iter()
                        .map(|(k, _)| k[i].chars().count())
                        .chain([names[i].len()])
                        .max()
                        .unwrap_or(0)
                        .min(64)
                })
                .collect();
            let line = |cells: Vec<String>, count: String| {
                let mut text: Vec<String> =
                    cells.iter().zip(&widths).map(|(c, w)| fit(c, *w)).collect();
                text.push(format!("{count:>10}"));
                text.join("  ")
            };
            writeln!(
                out,
                "{}",
                line(
                    names.iter().map(|n| n.to_uppercase()).collect(),
                    "COUNT".into()
                )
            )?;
            for (key, count) in rows {
                writeln!(out, "{}", line(key.clone(), count.to_string()))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_defused() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=cmd()"), "'=cmd()");
        assert_eq!(csv_cell("-"), "-");
    }
}
