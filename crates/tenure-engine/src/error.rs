//! The engine's error type.

/// What can go wrong in a pipeline run.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The store refused something.
    #[error(transparent)]
    Store(#[from] tenure_store::StoreError),
    /// The simulator refused something.
    #[error(transparent)]
    Sim(#[from] tenure_sim::Error),
    /// A model refused its data.
    #[error(transparent)]
    Model(#[from] tenure_models::Error),
    /// The data cannot support the request.
    #[error("{0}")]
    Data(String),
    /// A request's argument is not valid (a filter, a cursor, a segment predicate).
    #[error("{0}")]
    Invalid(String),
    /// The thing asked for does not exist (a customer, a segment).
    #[error("{0}")]
    NotFound(String),
    /// The request clashes with the project's state (a name taken, no scores yet).
    #[error("{0}")]
    Conflict(String),
    /// A file the pipeline writes could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

impl EngineError {
    /// An I/O failure on `path`.
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        EngineError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The engine's result type.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
