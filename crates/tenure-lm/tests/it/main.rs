//! Integration tests of tenure-lm: a tiny random BERT written by the tests, and the real models when
//! they have been pulled into `$TENURE_HOME/models` (skipped with a printed reason otherwise).

mod fixture;
mod heads;
mod real_model;
mod tiny;
