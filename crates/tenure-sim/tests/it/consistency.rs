//! Files, row counts, keys, amounts, timestamps and ground truth agree with each other.

use std::collections::{HashMap, HashSet};

use crate::*;

#[test]
fn row_counts_match_the_summary() {
    let (dir, s) = shop(&params());
    let d = dir.path();
    assert_eq!(s.customers, 2_000);
    assert_eq!(
        rows(d, "customers.csv", CUSTOMERS).len() as u64,
        s.customers
    );
    assert_eq!(
        rows(d, "ground_truth.csv", GROUND_TRUTH).len() as u64,
        s.customers
    );
    assert_eq!(rows(d, "products.csv", PRODUCTS).len() as u64, s.products);
    assert_eq!(rows(d, "orders.csv", ORDERS).len() as u64, s.orders);
    assert_eq!(
        rows(d, "order_items.csv", ORDER_ITEMS).len() as u64,
        s.order_items
    );
    assert_eq!(rows(d, "events.csv", EVENTS).len() as u64, s.events);
    assert_eq!(rows(d, "reviews.csv", REVIEWS).len() as u64, s.reviews);
    assert_eq!(rows(d, "tickets.csv", TICKETS).len() as u64, s.tickets);
    assert!(
        s.orders > s.customers && s.order_items > s.orders,
        "a busy shop: {s:?}"
    );
    assert!(
        s.events > s.orders && s.reviews > 100 && s.tickets > 100,
        "{s:?}"
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("simulation.json")).expect("manifest"))
            .expect("json");
    assert_eq!(manifest["summary"]["orders"], s.orders);
    assert_eq!(manifest["params"]["seed"], 7);
}

#[test]
fn keys_refer_to_existing_rows() {
    let (dir, _) = shop(&params());
    let d = dir.path();
    let customers: HashSet<String> = rows(d, "customers.csv", CUSTOMERS)
        .into_iter()
        .map(|r| r["customer_id"].clone())
        .collect();
    let products: HashSet<String> = rows(d, "products.csv", PRODUCTS)
        .into_iter()
        .map(|r| r["product_id"].clone())
        .collect();
    assert_eq!(customers.len(), 2_000, "customer ids are unique");
    let orders = rows(d, "orders.csv", ORDERS);
    let order_ids: HashSet<&str> = orders.iter().map(|o| o["order_id"].as_str()).collect();
    assert_eq!(order_ids.len(), orders.len(), "order ids are unique");
    for o in &orders {
        assert!(
            customers.contains(&o["customer_id"]),
            "order {} of unknown customer",
            o["order_id"]
        );
    }
    let mut lines = HashSet::new();
    for i in rows(d, "order_items.csv", ORDER_ITEMS) {
        assert!(
            order_ids.contains(i["order_id"].as_str()),
            "item of unknown order {}",
            i["order_id"]
        );
        assert!(
            products.contains(&i["product_id"]),
            "item of unknown product {}",
            i["product_id"]
        );
        assert!(
            lines.insert((i["order_id"].clone(), i["line"].clone())),
            "(order_id, line) is unique"
        );
    }
    let mut event_ids = HashSet::new();
    for e in rows(d, "events.csv", EVENTS) {
        assert!(customers.contains(&e["customer_id"]));
        assert!(e["product_id"].is_empty() || products.contains(&e["product_id"]));
        assert!(
            event_ids.insert(e["event_id"].clone()),
            "event ids are unique"
        );
    }
    for r in rows(d, "reviews.csv", REVIEWS) {
        assert!(customers.contains(&r["customer_id"]) && products.contains(&r["product_id"]));
    }
    for t in rows(d, "tickets.csv", TICKETS) {
        assert!(customers.contains(&t["customer_id"]));
    }
}

#[test]
fn amounts_are_the_sum_of_their_items() {
    let (dir, _) = shop(&params());
    let d = dir.path();
    let mut sums: HashMap<String, i64> = HashMap::new();
    for i in rows(d, "order_items.csv", ORDER_ITEMS) {
        let q: i64 = i["quantity"].parse().expect("integer quantity");
        assert!(q >= 1, "quantities are positive");
        *sums.entry(i["order_id"].clone()).or_default() += q * cents(&i["unit_price"]);
    }
    let prices: Vec<i64> = rows(d, "products.csv", PRODUCTS)
        .iter()
        .map(|p| cents(&p["price"]))
        .collect();
    assert!(prices.iter().all(|&p| p > 0));
    for o in rows(d, "orders.csv", ORDERS) {
        assert_eq!(
            cents(&o["amount"]),
            sums[&o["order_id"]],
            "order {}",
            o["order_id"]
        );
        assert!(["completed", "cancelled", "returned"].contains(&o["status"].as_str()));
        assert!(["web", "app", "marketplace"].contains(&o["channel"].as_str()));
        assert_eq!(o["currency"], "USD");
    }
}

#[test]
fn timestamps_fall_within_the_period() {
    let p = params();
    let (dir, _) = shop(&p);
    let d = dir.path();
    let lo = p
        .start
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
        .timestamp();
    let hi = p
        .end
        .and_hms_opt(23, 59, 59)
        .expect("end of day")
        .and_utc()
        .timestamp();
    let check = |name: &str, header: &[&str], cols: &[&str]| {
        for r in rows(d, name, header) {
            for c in cols {
                if !r[*c].is_empty() {
                    let t = ts(&r[*c]);
                    assert!(
                        (lo..=hi).contains(&t),
                        "{name}.{c} = {} outside the period",
                        r[*c]
                    );
                }
            }
        }
    };
    check("customers.csv", CUSTOMERS, &["created_at"]);
    check("orders.csv", ORDERS, &["ordered_at"]);
    check("events.csv", EVENTS, &["occurred_at"]);
    check("reviews.csv", REVIEWS, &["created_at"]);
    check("tickets.csv", TICKETS, &["created_at"]);
    check(
        "ground_truth.csv",
        GROUND_TRUTH,
        &["dropout_at", "first_order_at", "last_order_at"],
    );
}

#[test]
fn ground_truth_agrees_with_the_orders() {
    let (dir, _) = shop(&params());
    let d = dir.path();
    let mut by_customer: HashMap<String, Vec<i64>> = HashMap::new();
    for o in rows(d, "orders.csv", ORDERS) {
        by_customer
            .entry(o["customer_id"].clone())
            .or_default()
            .push(ts(&o["ordered_at"]));
    }
    let truth = rows(d, "ground_truth.csv", GROUND_TRUTH);
    let end = params()
        .end
        .and_hms_opt(23, 59, 59)
        .expect("end of day")
        .and_utc()
        .timestamp()
        + 1;
    let (mut dead, mut prospects) = (0, 0);
    for g in &truth {
        let times = by_customer
            .get(&g["customer_id"])
            .cloned()
            .unwrap_or_default();
        assert!(
            times.windows(2).all(|w| w[0] < w[1]),
            "a customer's orders are in time order"
        );
        assert_eq!(g["orders"].parse::<usize>().expect("count"), times.len());
        let prospect = g["prospect"] == "true";
        let alive = g["alive_at_end"] == "true";
        if prospect {
            prospects += 1;
            assert!(times.is_empty() && !alive && g["dropout_at"].is_empty());
            continue;
        }
        assert!(!times.is_empty(), "every non-prospect buys at least once");
        assert_eq!(ts(&g["first_order_at"]), times[0]);
        assert_eq!(ts(&g["last_order_at"]), times[times.len() - 1]);
        assert_eq!(
            alive,
            g["dropout_at"].is_empty(),
            "dropout_at is empty exactly for alive customers"
        );
        if !alive {
            dead += 1;
            let dropout = ts(&g["dropout_at"]);
            assert!(
                times.iter().all(|&t| t <= dropout),
                "no orders after dropout_at for {}",
                g["customer_id"]
            );
            assert_eq!(
                dropout,
                times[times.len() - 1],
                "dropout happens right after the last purchase"
            );
            // BG/NBD drops out only after a repeat purchase; a customer who resolved to leave
            // after a bad first order (leave_after_issue) drops out after it.
            assert!(
                times.len() >= 2 || params().leave_after_issue > 0.0,
                "dropout only after a repeat purchase (BG/NBD)"
            );
            assert_eq!(
                g["churned_in_last_90d"] == "true",
                dropout >= end - 90 * 86_400
            );
            assert_eq!(g["expected_orders_next_90d"], "0.0000");
        } else {
            assert_eq!(g["churned_in_last_90d"], "false");
        }
        let p: f64 = g["dropout_prob"].parse().expect("p");
        let lambda: f64 = g["purchase_rate_per_week"].parse().expect("lambda");
        assert!((0.0..=1.0).contains(&p) && lambda > 0.0);
    }
    assert!(
        dead > 100 && prospects > 100,
        "dead {dead}, prospects {prospects}"
    );
}

#[test]
fn events_precede_their_orders() {
    let (dir, _) = shop(&params());
    let d = dir.path();
    let mut checkouts: HashMap<String, Vec<i64>> = HashMap::new();
    let mut last: HashMap<String, i64> = HashMap::new();
    let types = [
        "view",
        "add_to_cart",
        "checkout",
        "email_open",
        "email_click",
    ];
    for e in rows(d, "events.csv", EVENTS) {
        assert!(
            types.contains(&e["event_type"].as_str()),
            "{}",
            e["event_type"]
        );
        let t = ts(&e["occurred_at"]);
        let prev = last.insert(e["customer_id"].clone(), t).unwrap_or(i64::MIN);
        assert!(prev <= t, "a customer's events are in time order");
        if e["event_type"] == "checkout" {
            checkouts
                .entry(e["customer_id"].clone())
                .or_default()
                .push(t);
        }
    }
    let mut n = 0;
    let mut orders: HashMap<String, Vec<i64>> = HashMap::new();
    for o in rows(d, "orders.csv", ORDERS) {
        orders
            .entry(o["customer_id"].clone())
            .or_default()
            .push(ts(&o["ordered_at"]));
    }
    for (c, times) in &orders {
        let outs = &checkouts[c];
        assert_eq!(outs.len(), times.len(), "one checkout per order");
        for (checkout, order) in outs.iter().zip(times) {
            assert!(
                checkout <= order && order - checkout < 3_600,
                "checkout shortly before its order"
            );
            n += 1;
        }
    }
    assert!(n > 0);
}

#[test]
fn reviews_and_tickets_are_well_formed() {
    let (dir, _) = shop(&params());
    let d = dir.path();
    for r in rows(d, "reviews.csv", REVIEWS) {
        let rating: u8 = r["rating"].parse().expect("integer rating");
        assert!((1..=5).contains(&rating));
        assert!(r["language"] == "en" || r["language"] == "zh");
        assert!(r["text"].len() > 10, "{}", r["text"]);
        let han = r["text"]
            .chars()
            .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
        assert_eq!(han, r["language"] == "zh", "{}", r["text"]);
    }
    for t in rows(d, "tickets.csv", TICKETS) {
        assert!(["email", "chat", "phone", "wechat"].contains(&t["channel"].as_str()));
        assert!(t["resolved"] == "true" || t["resolved"] == "false");
        assert!(t["text"].len() > 10);
    }
    let products = rows(d, "products.csv", PRODUCTS);
    let zh = products
        .iter()
        .filter(|p| {
            p["title"]
                .chars()
                .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
        })
        .count();
    assert!(
        zh > products.len() / 6 && zh < products.len() / 2,
        "about 30% Chinese titles, got {zh}"
    );
    let categories: HashSet<&str> = products.iter().map(|p| p["category"].as_str()).collect();
    assert_eq!(categories.len(), 8);
}
