//! Integration tests of the simulator: one generated shop checked for consistency, the planted signal
//! and determinism.

mod consistency;
mod determinism;
mod signal;

use std::collections::HashMap;
use std::path::Path;

use tenure_sim::{generate, SimParams, SimSummary};

/// The shop most tests read: 2,000 customers over the default two years.
pub fn params() -> SimParams {
    SimParams {
        customers: 2_000,
        seed: 7,
        ..SimParams::default()
    }
}

/// Generates `params` into a fresh temporary folder.
pub fn shop(params: &SimParams) -> (tempfile::TempDir, SimSummary) {
    let dir = tempfile::tempdir().expect("tempdir");
    let summary = generate(params, dir.path(), &mut |_| {}).expect("generates");
    (dir, summary)
}

/// The rows of `dir/name` as maps from column name to value, checking the header first.
pub fn rows(dir: &Path, name: &str, header: &[&str]) -> Vec<HashMap<String, String>> {
    let mut r = csv::Reader::from_path(dir.join(name)).expect("readable csv");
    let cols: Vec<String> = r
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(cols, header, "{name} header");
    r.records()
        .map(|rec| {
            let rec = rec.expect("valid record");
            assert_eq!(rec.len(), cols.len(), "{name}: every row has every column");
            cols.iter()
                .cloned()
                .zip(rec.iter().map(str::to_string))
                .collect()
        })
        .collect()
}

/// Seconds since the epoch of a `YYYY-MM-DDTHH:MM:SSZ` timestamp; panics on any other format.
pub fn ts(s: &str) -> i64 {
    assert_eq!(s.len(), 20, "timestamp {s:?}");
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%SZ")
        .expect("ISO-8601 timestamp")
        .and_utc()
        .timestamp()
}

/// Cents of a `units.cc` amount.
pub fn cents(s: &str) -> i64 {
    let (units, frac) = s.split_once('.').expect("two decimals");
    assert_eq!(frac.len(), 2, "two decimals in {s}");
    units.parse::<i64>().expect("units") * 100 + frac.parse::<i64>().expect("cents")
}

/// Columns of `customers.csv`.
pub const CUSTOMERS: &[&str] = &[
    "customer_id",
    "created_at",
    "country",
    "region",
    "city",
    "email",
    "phone",
];
/// Columns of `products.csv`.
pub const PRODUCTS: &[&str] = &[
    "product_id",
    "title",
    "description",
    "category",
    "brand",
    "price",
];
/// Columns of `orders.csv`.
pub const ORDERS: &[&str] = &[
    "order_id",
    "customer_id",
    "ordered_at",
    "amount",
    "currency",
    "status",
    "channel",
];
/// Columns of `order_items.csv`.
pub const ORDER_ITEMS: &[&str] = &["order_id", "line", "product_id", "quantity", "unit_price"];
/// Columns of `events.csv`.
pub const EVENTS: &[&str] = &[
    "event_id",
    "customer_id",
    "event_type",
    "occurred_at",
    "product_id",
    "session_id",
];
/// Columns of `reviews.csv`.
pub const REVIEWS: &[&str] = &[
    "review_id",
    "customer_id",
    "product_id",
    "rating",
    "text",
    "created_at",
    "language",
];
/// Columns of `tickets.csv`.
pub const TICKETS: &[&str] = &[
    "ticket_id",
    "customer_id",
    "text",
    "created_at",
    "channel",
    "resolved",
];
/// Columns of `ground_truth.csv`.
pub const GROUND_TRUTH: &[&str] = &[
    "customer_id",
    "prospect",
    "alive_at_end",
    "dropout_at",
    "churned_in_last_90d",
    "purchase_rate_per_week",
    "dropout_prob",
    "base_dropout_prob",
    "mean_spend",
    "satisfaction",
    "orders",
    "first_order_at",
    "last_order_at",
    "expected_orders_next_90d",
];
