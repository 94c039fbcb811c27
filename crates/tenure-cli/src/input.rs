//! How an input file is read: the flags shared by `tenure ingest` and `tenure score value --orders`.

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use tenure_engine::store::{Delimiter, Format, IngestOptions, OnConflict};

/// What to do with a row whose key is already taken with different content.
#[derive(Clone, Copy, ValueEnum)]
pub enum ConflictArg {
    /// Keep the first row; the other goes to the rejects file.
    Reject,
    /// The last row wins.
    Replace,
}

/// Input format.
#[derive(Clone, Copy, ValueEnum)]
pub enum FormatArg {
    /// Delimited text.
    Csv,
    /// JSON Lines.
    Jsonl,
    /// Apache Parquet.
    Parquet,
}

/// Flags that say how to read an input file.
#[derive(Args, Clone)]
pub struct InputArgs {
    /// Column mapping, ours=theirs (repeatable), e.g. --map customer_id=column2.
    #[arg(long = "map", value_name = "OURS=THEIRS")]
    pub map: Vec<String>,
    /// Input format (default: from the file name).
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Field delimiter: a character, `tab` or `whitespace` (default: sniffed).
    #[arg(long)]
    pub delimiter: Option<String>,
    /// The first row is a header (default: sniffed).
    #[arg(long, conflicts_with = "no_header")]
    pub header: bool,
    /// The file has no header row; columns are column1..columnN.
    #[arg(long)]
    pub no_header: bool,
    /// What to do with a row whose key is taken with different content.
    #[arg(long, value_enum, default_value = "reject")]
    pub on_conflict: ConflictArg,
}

impl InputArgs {
    /// Whether any flag differs from its default (to refuse them where no file is read).
    pub fn is_set(&self) -> bool {
        !self.map.is_empty()
            || self.format.is_some()
            || self.delimiter.is_some()
            || self.header
            || self.no_header
            || matches!(self.on_conflict, ConflictArg::Replace)
    }

    /// The reading options for `table`, with the flags checked.
    pub fn options(&self, table: &str) -> Result<IngestOptions> {
        let map = self
            .map
            .iter()
            .map(|m| {
                m.split_once('=')
                    .map(|(a, b)| (a.trim().to_string(), b.trim().to_string()))
                    .with_context(|| {
                        format!("--map {m}: write ours=theirs, e.g. --map customer_id=CustomerID")
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        let delimiter = match &self.delimiter {
            Some(d) => Some(Delimiter::parse(d).with_context(|| {
                format!("--delimiter {d:?}: give one character, `tab` or `whitespace`")
            })?),
            None => None,
        };
        Ok(IngestOptions {
            table: table.to_string(),
            format: self.format.map(|f| match f {
                FormatArg::Csv => Format::Csv,
                FormatArg::Jsonl => Format::Jsonl,
                FormatArg::Parquet => Format::Parquet,
            }),
            delimiter,
            header: if self.header {
                Some(true)
            } else if self.no_header {
                Some(false)
            } else {
                None
            },
            map,
            on_conflict: match self.on_conflict {
                ConflictArg::Reject => OnConflict::Reject,
                ConflictArg::Replace => OnConflict::Replace,
            },
            not_after: None,
        })
    }
}
