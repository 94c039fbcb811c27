//! The crate's error type.

use std::path::PathBuf;

/// What can go wrong while generating a shop.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A parameter is out of its range.
    #[error("invalid simulation parameter `{name}` = {value}: {expected}")]
    Param {
        /// The field of [`crate::SimParams`].
        name: &'static str,
        /// The value given.
        value: String,
        /// What it must be, and what to pass instead.
        expected: &'static str,
    },
    /// The period is empty or reversed.
    #[error("simulation period is empty: start {start} is not before end {end}; pass an end date after the start date")]
    Period {
        /// First day given.
        start: chrono::NaiveDate,
        /// Last day given.
        end: chrono::NaiveDate,
    },
    /// The output folder could not be created.
    #[error("cannot create output folder {path}: {source}; choose a folder you can write to")]
    OutDir {
        /// The folder.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// An output file could not be created or written.
    #[error(
        "cannot write {path}: {source}; check that the folder is writable and the disk has space"
    )]
    Write {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

/// The simulator's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
