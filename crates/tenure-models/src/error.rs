//! The crate's one error type.

/// Everything that can go wrong in `tenure-models`.
///
/// Every variant names the operation and the offending value, so a caller can print it as is.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// An input table has no rows.
    #[error("{what}: the input is empty; pass at least one customer")]
    Empty {
        /// The operation that received the empty input.
        what: &'static str,
    },
    /// Two columns that must line up have different lengths.
    #[error("{what}: column lengths differ ({left} vs {right}); pass one value per customer in every column")]
    LengthMismatch {
        /// The operation that received the columns.
        what: &'static str,
        /// Length of the first column.
        left: usize,
        /// Length of the mismatching column.
        right: usize,
    },
    /// A row holds a value the model cannot use (NaN, infinite, negative, inconsistent).
    #[error("row {row}: {field} = {value} is invalid: {reason}")]
    InvalidInput {
        /// Zero-based index of the offending row.
        row: usize,
        /// Column name.
        field: &'static str,
        /// The offending value.
        value: f64,
        /// What the value must satisfy.
        reason: &'static str,
    },
    /// A scalar argument (horizon, rate, parameter) is out of its domain.
    #[error("{name} = {value} is invalid: {reason}")]
    InvalidArgument {
        /// Argument name.
        name: &'static str,
        /// The offending value.
        value: f64,
        /// What the value must satisfy.
        reason: &'static str,
    },
    /// Nobody in the data bought twice, so the repeat-purchase process is not identified.
    #[error("{model}: none of the {n_customers} customers made a repeat purchase, so the model is not identified; use a longer calibration period")]
    NoRepeatBuyers {
        /// The model being fitted.
        model: &'static str,
        /// Number of customers in the input.
        n_customers: usize,
    },
    /// The optimizer could not find a finite likelihood from any start.
    #[error("{model}: fitting failed: {reason}")]
    FitFailed {
        /// The model being fitted.
        model: &'static str,
        /// Why.
        reason: String,
    },
    /// A metric that compares the classes (AUC, ROC, lift) got rows of only one class.
    #[error("{what}: all {n} rows are {present}, so it is undefined; evaluate on rows that hold both positives and negatives")]
    SingleClass {
        /// The metric that was asked for.
        what: &'static str,
        /// Number of rows.
        n: usize,
        /// The one class present: "positive" or "negative".
        present: &'static str,
    },
    /// A prediction is mathematically infinite or undefined for the fitted parameters.
    #[error("{model}: {quantity} is undefined for the fitted parameters ({reason})")]
    Undefined {
        /// The model.
        model: &'static str,
        /// The requested quantity.
        quantity: &'static str,
        /// Why it is undefined.
        reason: String,
    },
}

/// `Result` with the crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
