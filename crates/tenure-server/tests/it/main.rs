//! tenure-server's integration tests: one binary, one CDNOW project scored once and served on
//! loopback for all of them.

mod common;
mod dashboard;
mod http;
mod live;
mod oneshot;
mod props;
