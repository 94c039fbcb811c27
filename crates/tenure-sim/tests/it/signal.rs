//! The process honours its parameters and the planted satisfaction signal shows in the text.

use std::collections::HashMap;

use crate::*;

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len().max(1) as f64
}

/// Mean of per-customer mean ratings, for customers who dropped out and for those alive at the end.
fn rating_gap(p: &SimParams) -> (f64, f64) {
    let (dir, _) = shop(p);
    let d = dir.path();
    let truth: HashMap<String, bool> = rows(d, "ground_truth.csv", GROUND_TRUTH)
        .into_iter()
        .map(|g| (g["customer_id"].clone(), !g["dropout_at"].is_empty()))
        .collect();
    let mut ratings: HashMap<String, Vec<f64>> = HashMap::new();
    for r in rows(d, "reviews.csv", REVIEWS) {
        ratings
            .entry(r["customer_id"].clone())
            .or_default()
            .push(r["rating"].parse().expect("rating"));
    }
    let (mut dead, mut alive) = (Vec::new(), Vec::new());
    for (c, rs) in ratings {
        if truth[&c] {
            dead.push(mean(&rs))
        } else {
            alive.push(mean(&rs))
        }
    }
    assert!(
        dead.len() > 50 && alive.len() > 50,
        "enough reviewers: {} dead, {} alive",
        dead.len(),
        alive.len()
    );
    (mean(&dead), mean(&alive))
}

#[test]
fn churned_customers_rate_lower() {
    let (dead, alive) = rating_gap(&params());
    assert!(
        alive - dead > 0.2,
        "mean rating alive {alive:.3} vs churned {dead:.3}"
    );
}

#[test]
fn the_signal_switches_off() {
    // Both links off: satisfaction no longer moves dropout, and issues no longer make customers
    // leave (an issue lowers the rating, so leaving after one would tie ratings to dropout).
    let (dead, alive) = rating_gap(&SimParams {
        satisfaction_effect: 0.0,
        leave_after_issue: 0.0,
        ..params()
    });
    let (dead_on, alive_on) = rating_gap(&params());
    assert!(
        (alive - dead).abs() < (alive_on - dead_on) / 2.0,
        "off: {:.3}, on: {:.3}",
        alive - dead,
        alive_on - dead_on
    );
}

#[test]
fn unhappy_customers_complain_and_leave() {
    let (dir, _) = shop(&params());
    let d = dir.path();
    let truth = rows(d, "ground_truth.csv", GROUND_TRUTH);
    let sat: HashMap<String, f64> = truth
        .iter()
        .map(|g| {
            (
                g["customer_id"].clone(),
                g["satisfaction"].parse().expect("s"),
            )
        })
        .collect();
    let dead: Vec<f64> = truth
        .iter()
        .filter(|g| !g["dropout_at"].is_empty())
        .map(|g| sat[&g["customer_id"]])
        .collect();
    let alive: Vec<f64> = truth
        .iter()
        .filter(|g| g["alive_at_end"] == "true")
        .map(|g| sat[&g["customer_id"]])
        .collect();
    assert!(
        mean(&dead) < mean(&alive) - 0.2,
        "satisfaction dead {:.3} alive {:.3}",
        mean(&dead),
        mean(&alive)
    );
    // Complaint tickets come from customers with lower satisfaction than the average buyer.
    let complaints = [
        "arrived", "refund", "wrong", "late", "hasn't", "坏", "退款", "发错", "还没",
    ];
    let ticket_sat: Vec<f64> = rows(d, "tickets.csv", TICKETS)
        .iter()
        .filter(|t| complaints.iter().any(|w| t["text"].contains(w)))
        .map(|t| sat[&t["customer_id"]])
        .collect();
    assert!(
        ticket_sat.len() > 50 && mean(&ticket_sat) < -0.3,
        "complainers' satisfaction {:.3}",
        mean(&ticket_sat)
    );
}

#[test]
fn latent_draws_follow_their_distributions() {
    let p = params();
    let (dir, _) = shop(&p);
    let truth = rows(dir.path(), "ground_truth.csv", GROUND_TRUTH);
    let col = |c: &str| {
        truth
            .iter()
            .map(|g| g[c].parse::<f64>().expect("number"))
            .collect::<Vec<_>>()
    };
    // Gamma(r, α): mean r/α; Beta(a, b): mean a/(a+b); N(0, 1); Gamma-Gamma: E[p/ν] = pγ/(q−1).
    let lambda = mean(&col("purchase_rate_per_week"));
    assert!((lambda - p.r / p.alpha).abs() < 0.015, "mean λ {lambda}");
    let base = mean(&col("base_dropout_prob"));
    assert!((base - p.a / (p.a + p.b)).abs() < 0.02, "mean p {base}");
    let s = mean(&col("satisfaction"));
    assert!(s.abs() < 0.08, "mean satisfaction {s}");
    let spend = mean(&col("mean_spend"));
    let want = p.spend_p * p.spend_gamma / (p.spend_q - 1.0);
    assert!(
        (spend / want - 1.0).abs() < 0.1,
        "mean spend {spend} vs {want}"
    );
    let prospects =
        truth.iter().filter(|g| g["prospect"] == "true").count() as f64 / truth.len() as f64;
    assert!(
        (prospects - p.prospect_share).abs() < 0.03,
        "prospect share {prospects}"
    );
}

/// The sentences of customers who resolved to leave (`leave_after_issue`).
const LEAVING: [&str; 8] = [
    "This was my last order here.",
    "I won't be ordering from you again.",
    "I'm done with this shop",
    "I'll buy elsewhere from now on.",
    "这是我最后一次在这里买东西了。",
    "以后不会再来买了。",
    "请注销我的账号。",
    "以后去别家买了。",
];

#[test]
fn customers_who_say_they_leave_have_left_and_the_switch_turns_it_off() {
    let (dir, _) = shop(&params());
    let d = dir.path();
    let truth = rows(d, "ground_truth.csv", GROUND_TRUTH);
    let alive: HashMap<String, bool> = truth
        .iter()
        .map(|g| (g["customer_id"].clone(), g["alive_at_end"] == "true"))
        .collect();
    let mut sayers = std::collections::HashSet::new();
    for (file, cols) in [("reviews.csv", REVIEWS), ("tickets.csv", TICKETS)] {
        for r in rows(d, file, cols) {
            if LEAVING.iter().any(|w| r["text"].contains(w)) {
                sayers.insert(r["customer_id"].clone());
            }
        }
    }
    assert!(
        sayers.len() >= 20,
        "{} customers say they leave",
        sayers.len()
    );
    assert!(
        sayers.iter().all(|c| !alive[c]),
        "everyone who says they leave has dropped out"
    );
    let (off, _) = shop(&SimParams {
        leave_after_issue: 0.0,
        ..params()
    });
    for (file, cols) in [("reviews.csv", REVIEWS), ("tickets.csv", TICKETS)] {
        for r in rows(off.path(), file, cols) {
            assert!(
                !LEAVING.iter().any(|w| r["text"].contains(w)),
                "no leaving sentence when switched off: {}",
                r["text"]
            );
        }
    }
}
