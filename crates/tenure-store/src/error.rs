//! The store's one error type.

use std::path::PathBuf;

/// Everything that can go wrong in the store. Messages say what was wrong and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database engine refused an operation.
    #[error("database error while {op}: {source}")]
    Db {
        /// What the store was doing.
        op: String,
        /// The engine's own error.
        #[source]
        source: duckdb::Error,
    },
    /// A file could not be read or written.
    #[error("cannot {op} {path}: {source}")]
    Io {
        /// What the store was doing with the file.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// No project at this folder.
    #[error("no tenure project at {0}: run `tenure init` there first, or pass --project DIR")]
    NoProject(PathBuf),
    /// `tenure.toml` is not valid.
    #[error("invalid config {path}: {message}")]
    Config {
        /// The config file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The table name is not one the store knows.
    #[error("unknown table `{0}`: use one of orders, order_items, products, customers, events, reviews, tickets, exposures")]
    UnknownTable(String),
    /// The input cannot be ingested at all (as opposed to single bad rows, which go to the rejects file).
    #[error("cannot ingest {path}: {message}")]
    Input {
        /// The input file.
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
    /// A required column has no source column.
    #[error("table {table} needs column `{column}`, but the input has none that maps to it (columns found: {found}); map one with --map {column}=SOURCE_COLUMN or a [mapping.{table}] block in tenure.toml")]
    MissingColumn {
        /// Target table.
        table: String,
        /// Our column that is required.
        column: String,
        /// The input's columns.
        found: String,
    },
    /// A `--map` names something that does not exist.
    #[error("bad mapping {0}")]
    Mapping(String),
    /// An argument (a date, a horizon, a query) is not valid.
    #[error("{0}")]
    Invalid(String),
    /// A query tried to change data through the read-only SQL entry point.
    #[error("only read-only queries are allowed here (SELECT, WITH, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN): {0}")]
    NotReadOnly(String),
    /// An Arrow conversion failed.
    #[error("arrow error while {op}: {source}")]
    Arrow {
        /// What the store was doing.
        op: &'static str,
        /// Arrow's error.
        #[source]
        source: arrow::error::ArrowError,
    },
}

/// The store's result type.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Attach an operation name to a DuckDB error.
pub(crate) trait DbContext<T> {
    fn db(self, op: impl Into<String>) -> Result<T>;
}

impl<T> DbContext<T> for std::result::Result<T, duckdb::Error> {
    fn db(self, op: impl Into<String>) -> Result<T> {
        self.map_err(|source| StoreError::Db {
            op: op.into(),
            source,
        })
    }
}

/// Attach a path and operation to an I/O error.
pub(crate) fn io_err(
    op: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.into();
    move |source| StoreError::Io { op, path, source }
}
