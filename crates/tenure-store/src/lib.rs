//! tenure's embedded store: one DuckDB file per project holding the shop's orders, customers, events,
//! reviews, tickets and everything derived from them. It owns the schema and its migrations, the
//! lossless ingest of CSV/JSONL/Parquet (every row accepted, duplicate, conflicting or rejected, with a
//! rejects file), and the as-of-date feature SQL that every model reads — so no model ever sees a row
//! from after its as-of date. Bulk data moves as Arrow record batches.

mod config;
mod error;
mod features;
mod ingest;
mod narratives;
mod orders_file;
mod parse;
mod schema;
mod serving;
mod source;
mod store;
mod text;

pub use config::{Config, ProjectSection, CONFIG_FILE};
pub use error::{Result, StoreError};
pub use features::{parse_date, Horizon, TrackingDays};
pub use ingest::{
    Format, IngestOptions, IngestReport, OnConflict, RowRejection, RowsReport, MAX_INGEST_ROWS,
};
pub use narratives::{NarrativeRow, StoredNarrative};
pub use orders_file::{read_orders_file, OrderTransactions, OrdersFileOptions, OrdersFileReport};
pub use parse::{parse_amount, parse_timestamp, TimeZone};
pub use schema::{table, ColType, ColumnSpec, TableSpec, MIGRATIONS, TABLES};
pub use serving::{ApiKeyRecord, SegmentRecord, SqlParam};
pub use source::Delimiter;
pub use store::{check_read_only, ModelRecord, Status, Store, TableStatus, DB_FILE};
pub use text::{ReviewAnalysisRow, ReviewText, Satisfaction};

/// Arrow, re-exported so callers use the same version as the store.
pub use arrow;
