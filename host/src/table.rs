//! What every printed table shares: the `--format` choice and fitting a value to its
//! column. A leaf module, so that commands of lower modules (`actions_list`) print
//! tables without importing `output`, which reads the pipeline's counts.

/// Output format chosen with `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// `text` in exactly `width` columns: cut with an ellipsis when longer (tables only;
/// `--format json` has every value in full), padded when shorter.
pub fn fit(text: &str, width: usize) -> String {
    let count = text.chars().count();
    if count > width {
        let kept: String = text.chars().take(width.saturating_sub(1)).collect();
        format!("{kept}…")
    } else {
        format!("{text}{}", " ".repeat(width - count))
    }
}
