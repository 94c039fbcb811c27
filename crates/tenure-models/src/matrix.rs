//! A table of named numeric feature columns that may hold missing values, one row per customer: the input of the classifiers
//! ([`crate::GbdtParams`], [`crate::LogisticParams`]).
//!
//! Columns are stored one `Vec<f64>` each (column-major), so a caller builds the matrix from the
//! columns it already has and appends more later — behaviour features first, text features from
//! another stage after them — without copying the rest. `NaN` means *missing* (for example the mean
//! repeat spend of a one-time buyer); infinities are refused. Fitted models remember the column
//! names they were trained on and look columns up by name, so a matrix with extra or reordered
//! columns predicts the same.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Named numeric columns of equal length; `NaN` marks a missing value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureTable {
    n_rows: usize,
    names: Vec<String>,
    columns: Vec<Vec<f64>>,
}

impl FeatureTable {
    /// An empty matrix of `n_rows` rows; add columns with [`FeatureTable::push`].
    pub fn new(n_rows: usize) -> Self {
        Self {
            n_rows,
            names: Vec::new(),
            columns: Vec::new(),
        }
    }

    /// A matrix from `(name, values)` pairs, in that column order.
    ///
    /// Errors like [`FeatureTable::push`]; an empty list gives a matrix of zero rows.
    pub fn from_columns(columns: Vec<(String, Vec<f64>)>) -> Result<Self> {
        let n = columns.first().map_or(0, |c| c.1.len());
        let mut m = Self::new(n);
        for (name, values) in columns {
            m.push(name, values)?;
        }
        Ok(m)
    }

    /// Append a column (the seam where later stages add their features).
    ///
    /// Errors when its length differs from the matrix's rows, its name is taken or empty, or a value
    /// is infinite (use `NaN` for missing).
    pub fn push(&mut self, name: impl Into<String>, values: Vec<f64>) -> Result<()> {
        let name = name.into();
        if values.len() != self.n_rows {
            return Err(Error::LengthMismatch {
                what: "feature table column",
                left: self.n_rows,
                right: values.len(),
            });
        }
        if name.is_empty() || self.names.contains(&name) {
            return Err(Error::Undefined {
                model: "feature table",
                quantity: "a column",
                reason: format!("column name `{name}` is empty or already taken; use unique names"),
            });
        }
        if let Some(row) = values.iter().position(|v| v.is_infinite()) {
            return Err(Error::InvalidInput {
                row,
                field: "feature",
                value: values[row],
                reason: "must be finite or NaN (missing); clip or drop infinite values",
            });
        }
        self.names.push(name);
        self.columns.push(values);
        Ok(())
    }

    /// Rows (customers).
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Columns (features).
    pub fn n_columns(&self) -> usize {
        self.names.len()
    }

    /// Column names, in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The values of a column, by name.
    pub fn column(&self, name: &str) -> Option<&[f64]> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|j| self.columns[j].as_slice())
    }

    /// The values of the `j`-th column.
    pub fn column_at(&self, j: usize) -> &[f64] {
        &self.columns[j]
    }

    /// Row `i` as a vector, in column order (`None` past the last row).
    pub fn row(&self, i: usize) -> Option<Vec<f64>> {
        (i < self.n_rows).then(|| self.columns.iter().map(|c| c[i]).collect())
    }

    /// A matrix of the given rows, in that order (indices past the end are skipped).
    pub fn select_rows(&self, rows: &[usize]) -> Self {
        let rows: Vec<usize> = rows.iter().copied().filter(|&i| i < self.n_rows).collect();
        Self {
            n_rows: rows.len(),
            names: self.names.clone(),
            columns: self
                .columns
                .iter()
                .map(|c| rows.iter().map(|&i| c[i]).collect())
                .collect(),
        }
    }

    /// The columns named `names`, in that order: how a fitted model reads a matrix whose column
    /// order may differ from its training matrix. Errors naming the first missing column.
    pub fn aligned(&self, names: &[String], model: &'static str) -> Result<Vec<&[f64]>> {
        names
            .iter()
            .map(|n| {
                self.column(n).ok_or_else(|| Error::Undefined {
                    model,
                    quantity: "a prediction",
                    reason: format!(
                        "the matrix lacks column `{n}` that the model was trained on; build it with the same features"
                    ),
                })
            })
            .collect()
    }
}

/// The checks every binary classifier's `fit` makes on its data: rows and columns present, one
/// label per row, both classes present. Returns the number of positive labels.
pub(crate) fn check_binary_fit(what: &'static str, x: &FeatureTable, y: &[bool]) -> Result<usize> {
    let n = x.n_rows();
    if n == 0 || x.n_columns() == 0 {
        return Err(Error::Empty { what });
    }
    if y.len() != n {
        return Err(Error::LengthMismatch {
            what,
            left: n,
            right: y.len(),
        });
    }
    let positives = y.iter().filter(|&&v| v).count();
    if positives == 0 || positives == n {
        return Err(Error::SingleClass {
            what,
            n,
            present: if positives == 0 {
                "negative"
            } else {
                "positive"
            },
        });
    }
    Ok(positives)
}

/// Mean and population variance of a column's present (non-NaN) values; (0, 0) when none is
/// present. The standardizing models fill missing values with the mean afterwards.
pub(crate) fn moments_ignoring_nan(col: &[f64]) -> (f64, f64) {
    let present: Vec<f64> = col.iter().copied().filter(|v| !v.is_nan()).collect();
    if present.is_empty() {
        return (0.0, 0.0);
    }
    let m = present.iter().sum::<f64>() / present.len() as f64;
    let var = present.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / present.len() as f64;
    (m, var)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_checked_and_aligned_by_name() -> Result<()> {
        let mut m = FeatureTable::from_columns(vec![
            ("a".into(), vec![1.0, 2.0]),
            ("b".into(), vec![f64::NAN, 4.0]),
        ])?;
        assert!(m.push("a", vec![0.0, 0.0]).is_err());
        assert!(m.push("c", vec![0.0]).is_err());
        assert!(m.push("c", vec![0.0, f64::INFINITY]).is_err());
        m.push("c", vec![5.0, 6.0])?;
        let cols = m.aligned(&["c".to_string(), "a".to_string()], "test")?;
        assert_eq!(cols[0], &[5.0, 6.0]);
        assert_eq!(cols[1], &[1.0, 2.0]);
        assert!(m.aligned(&["z".to_string()], "test").is_err());
        assert_eq!(m.select_rows(&[1, 7]).row(0), Some(vec![2.0, 4.0, 6.0]));
        Ok(())
    }
}
