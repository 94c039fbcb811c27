//! Integration tests of tenure-models against published CDNOW results.

mod btyd;
mod clv;
mod fixtures;
mod holdout;
mod hostile;
mod metrics;
mod perf;
