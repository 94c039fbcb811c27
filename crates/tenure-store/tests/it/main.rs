//! Integration tests of the store on real fixtures (CDNOW) and a corpus of bad inputs.

mod bad_input;
mod cdnow;

use std::path::PathBuf;

use tenure_store::arrow::array::{Array, Float64Array, Int64Array, StringArray};
use tenure_store::arrow::compute::cast;
use tenure_store::arrow::datatypes::DataType;
use tenure_store::arrow::record_batch::RecordBatch;

/// The repository's test fixtures.
pub fn fixture(name: &str) -> PathBuf {
    // Found at run time (cargo sets CARGO_MANIFEST_DIR for test runs): a compile-time path would
    // point into whichever checkout first built this binary, since clones share a target directory.
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .join("../../tests/fixtures")
        .join(name)
}

/// One column of a query result as strings (nulls as None).
pub fn col_str(batches: &[RecordBatch], name: &str) -> Vec<Option<String>> {
    let mut out = Vec::new();
    for b in batches {
        let idx = b.schema().index_of(name).expect("column exists");
        let a = cast(b.column(idx), &DataType::Utf8).expect("castable");
        let a = a.as_any().downcast_ref::<StringArray>().expect("utf8");
        out.extend((0..a.len()).map(|i| (!a.is_null(i)).then(|| a.value(i).to_string())));
    }
    out
}

/// One column as f64.
pub fn col_f64(batches: &[RecordBatch], name: &str) -> Vec<Option<f64>> {
    let mut out = Vec::new();
    for b in batches {
        let idx = b.schema().index_of(name).expect("column exists");
        let a = cast(b.column(idx), &DataType::Float64).expect("castable");
        let a = a.as_any().downcast_ref::<Float64Array>().expect("f64");
        out.extend((0..a.len()).map(|i| (!a.is_null(i)).then(|| a.value(i))));
    }
    out
}

/// One column as i64.
pub fn col_i64(batches: &[RecordBatch], name: &str) -> Vec<Option<i64>> {
    let mut out = Vec::new();
    for b in batches {
        let idx = b.schema().index_of(name).expect("column exists");
        let a = cast(b.column(idx), &DataType::Int64).expect("castable");
        let a = a.as_any().downcast_ref::<Int64Array>().expect("i64");
        out.extend((0..a.len()).map(|i| (!a.is_null(i)).then(|| a.value(i))));
    }
    out
}
