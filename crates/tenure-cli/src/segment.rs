//! `tenure segment cluster`: parse, call the engine, print the clusters.

use std::path::Path;

use anyhow::Result;
use clap::Args;
use tenure_engine::store::{parse_date, Store};
use tenure_engine::{ClusterOptions, ClusterSummary};

/// Options of `tenure segment cluster` (ignored by `segment rfm`).
#[derive(Args)]
pub struct ClusterArgs {
    /// Features as of this day (YYYY-MM-DD); default: the last order day.
    #[arg(long)]
    as_of: Option<String>,
    /// Smallest number of clusters tried.
    #[arg(long, default_value_t = 3)]
    k_min: usize,
    /// Largest number of clusters tried.
    #[arg(long, default_value_t = 8)]
    k_max: usize,
}

/// Run `tenure segment cluster`.
pub fn cluster(a: ClusterArgs, project: &Path, json: bool) -> Result<()> {
    let store = Store::open(project)?;
    let opts = ClusterOptions {
        as_of: a.as_of.as_deref().map(parse_date).transpose()?,
        k_min: a.k_min,
        k_max: a.k_max,
        ..Default::default()
    };
    let s = tenure_engine::segment_clusters(&store, &opts, chrono::Utc::now().naive_utc())?;
    if json {
        println!("{}", serde_json::to_string_pretty(&s)?);
    } else {
        print_clusters(&s);
    }
    Ok(())
}

/// Short column labels for the centroid table.
fn label(feature: &str) -> &str {
    match feature {
        "orders" => "orders",
        "recency_days" => "recency_d",
        "tenure_days" => "tenure_d",
        "spend_total" => "spend",
        "avg_order_value" => "aov",
        "returns" => "returns",
        "p_alive" => "p_alive",
        "expected_purchases_90d" => "exp_90d",
        "clv" => "clv",
        other => other,
    }
}

fn print_clusters(s: &ClusterSummary) {
    println!(
        "{} customers as of {} in {} clusters (silhouette {:.3}); run {}, model {} v{}",
        s.customers, s.as_of, s.k, s.silhouette, s.run_id, s.model_id, s.version
    );
    let tried: Vec<String> = s
        .k_scores
        .iter()
        .map(|k| format!("k={} {:.3}", k.k, k.silhouette))
        .collect();
    println!("  silhouette by k: {}", tried.join(", "));
    match &s.scores_run_id {
        Some(r) => println!("  value scores from run {r}"),
        None => println!("  no value scores before this day: run `tenure score value` to add P(alive), expected purchases and CLV"),
    }
    let mut head = format!("  {:>2} {:>6} {:>6}", "#", "size", "share");
    for f in &s.features {
        head.push_str(&format!(" {:>9}", label(f)));
    }
    println!("{head}  name");
    for c in &s.clusters {
        let mut line = format!("  {:>2} {:>6} {:>5.1}%", c.cluster, c.size, 100.0 * c.share);
        for v in &c.centroid {
            line.push_str(&format!(" {:>9}", fmt_value(*v)));
        }
        println!("{line}  {} / {}", c.name, c.name_zh);
    }
    if s.has_text {
        println!("  top words (reviews and tickets; words over-represented in the cluster):");
        for c in &s.clusters {
            println!("  {:>2} {}", c.cluster, c.top_words.join(", "));
        }
    }
    println!("  centroids in original units (counts and money: back from the log scale)");
    println!(
        "  model: {} (assign one customer without refitting)",
        s.model_path.display()
    );
}

fn fmt_value(v: f64) -> String {
    // No "-0.000" from rounding at zero.
    let v = if v.abs() < 5e-4 { 0.0 } else { v };
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}
