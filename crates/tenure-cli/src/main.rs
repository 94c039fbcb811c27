//! `tenure`: the command-line face of the engine. Each subcommand parses its arguments, calls the
//! engine, and prints a human summary or, with `--json`, one JSON document.
//!
//! Exit codes: 0 success; 1 failure (the message says what to do); 2 bad usage; 3 an ingest finished
//! but refused some rows (see its rejects file).

mod input;
mod lm;
mod risk;
mod segment;
mod sentiment;
mod serve;
mod value_file;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use tenure_engine::sim::SimParams;
use tenure_engine::store::arrow::record_batch::RecordBatch;
use tenure_engine::store::arrow::util::pretty::pretty_format_batches;
use tenure_engine::store::{parse_date, Horizon, IngestReport, OnConflict, Status, Store};
use tenure_engine::RiskTarget;

#[derive(Parser)]
#[command(
    name = "tenure",
    version,
    about = "Customer lifecycle engine for e-commerce: value, risk, segments, satisfaction."
)]
struct Cli {
    /// Project folder (holds tenure.toml, tenure.duckdb, models/, rejects/).
    #[arg(long, global = true, default_value = ".")]
    project: PathBuf,
    /// Print one JSON document instead of a human summary.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum ScoreKind {
    Value,
    Risk,
}

#[derive(Clone, Copy, ValueEnum)]
enum BenchKind {
    Value,
    Risk,
}

#[derive(Clone, Copy, ValueEnum)]
enum EvalKind {
    Value,
    Churn,
}

#[derive(Clone, Copy, ValueEnum)]
enum PurchaseModelArg {
    BgNbd,
    ParetoNbd,
}

#[derive(Clone, Copy, ValueEnum)]
enum SegmentKind {
    Rfm,
    /// k-means on behaviour and value scores, k chosen by silhouette.
    Cluster,
}

/// `tenure train …`: the risk models, and the other trainers flattened in.
#[derive(Subcommand)]
enum TrainWhat {
    /// Churn risk: gradient-boosted trees on as-of behaviour features + BG/NBD outputs, fitted at
    /// an earlier origin and evaluated at --as-of (report in models/<id>/).
    Churn(risk::TrainRiskArgs),
    /// High value: the top --share of spend in the horizon, same model and split as churn.
    Highvalue(risk::TrainRiskArgs),
    #[command(flatten)]
    Other(sentiment::TrainCommand),
}

#[derive(Subcommand)]
enum Command {
    /// Language-model packages: `pull` one into the model cache, `list` the catalogue.
    Models {
        #[command(subcommand)]
        action: lm::ModelsCommand,
    },
    /// Embed text lines (stdin or --file) with a local encoder; one vector per line, in order.
    Embed(lm::EmbedArgs),
    /// Train a task head: `sentiment` = a head on frozen embeddings of a labelled corpus.
    Train {
        #[command(subcommand)]
        what: TrainWhat,
    },
    /// Analyse the store's text: `reviews` = sentiment per review, satisfaction per customer/product.
    Analyze {
        #[command(subcommand)]
        what: sentiment::AnalyzeCommand,
    },
    /// Create a project in --project (safe to run again).
    Init,
    /// Load a CSV, JSONL or Parquet file into a table, accounting for every row.
    Ingest {
        /// The file (gzip allowed).
        file: PathBuf,
        /// Target table: orders, order_items, products, customers, events, reviews, tickets, exposures.
        #[arg(long)]
        table: String,
        #[command(flatten)]
        input: input::InputArgs,
    },
    /// Tables, row counts, date ranges, and which capabilities are on.
    Status,
    /// Per-customer features as of a date (and holdout labels with --horizon).
    Features {
        /// Features use only rows on or before this day (YYYY-MM-DD); default: the last order day.
        #[arg(long)]
        as_of: Option<String>,
        /// Add holdout labels from (as_of, as_of + horizon], e.g. 90d, 39w, 6m.
        #[arg(long)]
        horizon: Option<String>,
        /// Output file (.csv, .parquet, .jsonl); without it a preview is printed.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Run a read-only SQL query against the store.
    Sql {
        /// The query (SELECT, WITH, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN).
        query: String,
        /// Write the result to a file (.csv, .parquet, .jsonl) instead of printing it.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Write a table to CSV, Parquet or JSONL.
    Export {
        /// Table name.
        table: String,
        /// Output file; the extension picks the format.
        #[arg(long)]
        out: PathBuf,
    },
    /// Score customers: `value` = RFM group, P(alive), expected purchases, next order, CLV;
    /// `risk` = churn (and high-value) probability of the latest models into customer_risk.
    Score {
        /// What to score.
        #[arg(value_enum)]
        what: ScoreKind,
        /// Score as of this day (YYYY-MM-DD); default: the last order day.
        #[arg(long)]
        as_of: Option<String>,
        /// CLV horizon in months.
        #[arg(long, default_value_t = 12)]
        clv_months: u32,
        /// Monthly discount rate of CLV.
        #[arg(long, default_value_t = 0.01)]
        discount: f64,
        /// Bootstrap resamples behind the CLV interval (clv_low, clv_high); 0 turns it off.
        /// Default: 100 up to 250,000 buyers, none above (each resample refits and rescores).
        #[arg(long)]
        interval_resamples: Option<usize>,
        /// `value` only: score this orders file directly, without a project (read and validated
        /// as `tenure ingest --table orders` would; nothing is stored). Needs --out.
        #[arg(long, value_name = "FILE")]
        orders: Option<PathBuf>,
        /// With --orders: the scores file to write (.csv or .tsv).
        #[arg(long, value_name = "FILE", requires = "orders")]
        out: Option<PathBuf>,
        /// With --orders: the columns to write, comma-separated (default: all; customer_id is
        /// always written). Outputs no chosen column needs are not computed, e.g.
        /// `--columns p_alive,expected_purchases_90d,clv` skips RFM and the next-order search.
        #[arg(long, value_name = "NAMES", value_delimiter = ',', requires = "orders")]
        columns: Vec<String>,
        #[command(flatten)]
        input: input::InputArgs,
    },
    /// Validate a model on a calibration/holdout split and write its report to models/<id>/.
    Eval {
        /// What to evaluate: `value` = the repeat-purchase model (tracking curve, per-customer accuracy);
        /// `churn` = re-evaluate the latest churn model at its own origin.
        #[arg(value_enum)]
        what: EvalKind,
        /// Last day of the calibration period (YYYY-MM-DD); `churn` uses its model's.
        #[arg(long)]
        as_of: Option<String>,
        /// Holdout length after --as-of, e.g. 39w, 90d, 6m, 1y; `churn` uses its model's.
        #[arg(long)]
        horizon: Option<String>,
        /// Repeat-purchase model.
        #[arg(long, value_enum, default_value = "bg-nbd")]
        model: PurchaseModelArg,
        #[command(flatten)]
        text: risk::TextArgs,
    },
    /// Write every customer's narrative (behaviour as of a day, in words; Chinese for customers who
    /// write Chinese) into `customer_narratives`.
    Narratives {
        /// Day described (YYYY-MM-DD); default: the last order day.
        #[arg(long)]
        as_of: Option<String>,
    },
    /// Time the engine at scale on generated data: `value` = fit + score of the value models;
    /// `risk` = scoring with a fitted churn model and single-customer re-scores.
    Bench {
        /// What to benchmark.
        #[arg(value_enum)]
        what: BenchKind,
        /// Customers to generate.
        #[arg(long, default_value_t = 1_000_000)]
        customers: usize,
        /// Bootstrap resamples behind the CLV interval, as in `score value`; 0 turns it off.
        #[arg(long, default_value_t = 0)]
        interval_resamples: usize,
        /// Random seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Show segments of the latest scores: `rfm` = the 11 RFM groups with size, CLV and risk (the
    /// default taxonomy); `cluster` = k-means segments named by their traits and top words.
    Segment {
        /// Which segmentation.
        #[arg(value_enum)]
        what: SegmentKind,
        #[command(flatten)]
        cluster: segment::ClusterArgs,
    },
    /// Generate a realistic shop (customers, products, orders, items, events, reviews, tickets).
    Generate {
        /// Number of customers.
        #[arg(long, default_value_t = 10_000)]
        customers: u64,
        /// Random seed (same seed, same files).
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
    },
    /// Serve the HTTP API (JSON under /v1, OpenAPI at /openapi.json, metrics) until Ctrl-C.
    Serve(serve::ServeArgs),
    /// Manage API keys: create (printed once, stored hashed), list, revoke.
    Keys {
        #[command(subcommand)]
        cmd: serve::KeysCommand,
    },
    /// Run the whole pipeline on the bundled CDNOW sample and a generated shop.
    Demo {
        /// Folder for the demo projects.
        #[arg(long, default_value = "demo-project")]
        dir: PathBuf,
        /// Customers in the generated shop.
        #[arg(long, default_value_t = 5_000)]
        shop_customers: u64,
        #[command(flatten)]
        serve: serve::DemoServeArgs,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(1)
        }
    }
}

fn spinner(json: bool, what: &str) -> ProgressBar {
    if json {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new_spinner();
    pb.set_style(
        ProgressStyle::with_template("{spinner} {msg} {human_pos} rows [{elapsed}] {per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    pb.set_message(what.to_string());
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

fn print_json<T: serde::Serialize>(v: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

fn run(cli: Cli) -> Result<ExitCode> {
    let project = cli.project.clone();
    match cli.command {
        Command::Models { action } => lm::models(action, cli.json)?,
        Command::Embed(args) => lm::embed(args, cli.json)?,
        Command::Train { what } => match what {
            TrainWhat::Churn(a) => risk::train(RiskTarget::Churn, a, &project, cli.json)?,
            TrainWhat::Highvalue(a) => risk::train(RiskTarget::HighValue, a, &project, cli.json)?,
            TrainWhat::Other(w) => sentiment::train(w, &project, cli.json)?,
        },
        Command::Analyze { what } => sentiment::analyze(what, &project, cli.json)?,
        Command::Init => {
            let store = Store::init(&project)?;
            if cli.json {
                print_json(&store.status()?)?;
            } else {
                println!(
                    "initialised project {} (schema v{})",
                    project.display(),
                    store.schema_version()?
                );
                println!("next: tenure ingest orders.csv --table orders");
            }
        }
        Command::Ingest { file, table, input } => {
            let store = Store::open(&project)?;
            let opts = input.options(&table)?;
            let pb = spinner(cli.json, &format!("ingesting {}", file.display()));
            let report = store.ingest(&file, &opts, &mut |n| pb.set_position(n));
            pb.finish_and_clear();
            let report = report?;
            if cli.json {
                print_json(&report)?;
            } else {
                print_ingest(&report);
            }
            if report.rejected + report.conflicting > 0 && report.on_conflict == OnConflict::Reject
                || report.rejected > 0
            {
                return Ok(ExitCode::from(3));
            }
        }
        Command::Status => {
            let store = Store::open_read_only(&project)?;
            let status = store.status()?;
            if cli.json {
                print_json(&status)?;
            } else {
                print_status(&status);
            }
        }
        Command::Features {
            as_of,
            horizon,
            out,
        } => {
            let store = Store::open_read_only(&project)?;
            let as_of = match as_of {
                Some(d) => parse_date(&d)?,
                None => store
                    .last_order_date()?
                    .context("the store has no orders yet: ingest some with `tenure ingest FILE --table orders`")?,
            };
            let sql = match &horizon {
                Some(h) => store.calibration_holdout_sql(as_of, Horizon::parse(h)?)?,
                None => store.features_sql(as_of)?,
            };
            match out {
                Some(path) => {
                    let n = store.copy_to(&sql, &path)?;
                    if cli.json {
                        print_json(
                            &serde_json::json!({"as_of": as_of.to_string(), "rows": n, "out": path}),
                        )?;
                    } else {
                        println!(
                            "wrote features of {n} customers as of {as_of} to {}",
                            path.display()
                        );
                    }
                }
                None => {
                    let batches = store.query_arrow(&format!("SELECT * FROM ({sql}) LIMIT 10"))?;
                    let total =
                        store.query_arrow(&format!("SELECT count(*) AS customers FROM ({sql})"))?;
                    println!("{}", pretty_format_batches(&total)?);
                    println!("{}", pretty_format_batches(&batches)?);
                    println!("(first 10 rows; use --out FILE for all)");
                }
            }
        }
        Command::Sql { query, out } => {
            let store = Store::open_read_only(&project)?;
            tenure_engine::store::check_read_only(&query)?;
            match out {
                Some(path) => {
                    let n = store.copy_to(query.trim().trim_end_matches(';'), &path)?;
                    println!("wrote {n} rows to {}", path.display());
                }
                None => {
                    let batches = store.query_read_only(&query)?;
                    print_batches(&batches, cli.json)?;
                }
            }
        }
        Command::Export { table, out } => {
            let store = Store::open_read_only(&project)?;
            let n = store.export_table(&table, &out)?;
            if cli.json {
                print_json(&serde_json::json!({"table": table, "rows": n, "out": out}))?;
            } else {
                println!("exported {n} rows of {table} to {}", out.display());
            }
        }
        Command::Score {
            what: ScoreKind::Value,
            as_of,
            clv_months,
            discount,
            interval_resamples,
            orders,
            out,
            columns,
            input,
        } => {
            let opts = tenure_engine::ValueOptions {
                as_of: as_of.as_deref().map(parse_date).transpose()?,
                clv_months,
                monthly_discount_rate: discount,
                interval_resamples,
                ..Default::default()
            };
            if let Some(orders) = orders {
                return value_file::score(&project, &orders, out, &columns, &input, opts, cli.json);
            }
            if input.is_set() {
                anyhow::bail!("--map, --format, --delimiter, --header and --on-conflict describe an --orders file; give one, or drop them to score the project");
            }
            let store = Store::open(&project)?;
            let s = tenure_engine::score_value(&store, &opts)?;
            if cli.json {
                print_json(&s)?;
            } else {
                println!(
                    "scored {} customers as of {} (run {})",
                    s.customers, s.as_of, s.run_id
                );
                let [r, alpha, a, b] = s.bg_nbd;
                println!(
                    "  BG/NBD (days): r {r:.4}, alpha {alpha:.3}, a {a:.4}, b {b:.4}; log-likelihood {:.2}; converged {}",
                    s.bg_nbd_diagnostics.log_likelihood, s.bg_nbd_diagnostics.converged
                );
                if let Some([p, q, g]) = s.gamma_gamma {
                    println!("  Gamma-Gamma: p {p:.3}, q {q:.3}, gamma {g:.3} ({} repeat buyers left out for non-positive spend)", s.gamma_gamma_excluded);
                }
                for w in s.bg_nbd_diagnostics.warnings.iter().chain(&s.warnings) {
                    println!("  warning: {w}");
                }
                let interval = s
                    .clv_total_interval
                    .map(|i| format!(" (90% bootstrap interval {:.2} to {:.2})", i.lower, i.upper))
                    .unwrap_or_else(|| {
                        " (no interval: pass --interval-resamples N to compute one)".into()
                    });
                println!(
                    "  expected purchases next 90 days: {:.1}; CLV over {clv_months} months: {:.2}{interval}",
                    s.expected_purchases_90d, s.clv_total
                );
                println!(
                    "  {:<18} {:>10} {:>14} {:>14}",
                    "RFM group", "customers", "spend", "CLV"
                );
                for (name, g) in &s.groups {
                    println!(
                        "  {:<18} {:>10} {:>14.2} {:>14.2}",
                        name, g.customers, g.spend, g.clv
                    );
                }
                println!(
                    "  scores: tenure sql \"SELECT * FROM customer_scores WHERE run_id = '{}'\"",
                    s.run_id
                );
            }
        }
        Command::Eval {
            what: EvalKind::Value,
            as_of,
            horizon,
            model,
            ..
        } => {
            let store = Store::open(&project)?;
            let (Some(as_of), Some(horizon)) = (as_of, horizon) else {
                anyhow::bail!(
                    "eval value needs --as-of and --horizon, e.g. --as-of 1997-09-30 --horizon 39w"
                );
            };
            let opts = tenure_engine::ValueEvalOptions {
                as_of: parse_date(&as_of)?,
                horizon: Horizon::parse(&horizon)?,
                model: match model {
                    PurchaseModelArg::BgNbd => tenure_engine::PurchaseModelKind::BgNbd,
                    PurchaseModelArg::ParetoNbd => tenure_engine::PurchaseModelKind::ParetoNbd,
                },
                max_frequency: 7,
            };
            let r = tenure_engine::evaluate_value(&store, &opts, chrono::Utc::now().naive_utc())?;
            if cli.json {
                print_json(&r)?;
            } else {
                print_value_eval(&r);
            }
        }
        Command::Eval {
            what: EvalKind::Churn,
            text,
            ..
        } => risk::eval_churn(&project, &text, cli.json)?,
        Command::Narratives { as_of } => risk::narratives(&project, as_of, cli.json)?,
        Command::Score {
            what: ScoreKind::Risk,
            as_of,
            ..
        } => risk::score(&project, as_of, cli.json)?,
        Command::Bench {
            what: BenchKind::Risk,
            customers,
            seed,
            ..
        } => risk::bench(customers, seed, cli.json)?,
        Command::Bench {
            what: BenchKind::Value,
            customers,
            interval_resamples,
            seed,
        } => {
            let params = tenure_engine::sim::HistoryParams {
                n_customers: customers,
                seed,
                ..Default::default()
            };
            let opts = tenure_engine::ValueOptions {
                interval_resamples: Some(interval_resamples),
                ..Default::default()
            };
            let r = tenure_engine::bench_value(&params, &opts)?;
            let peak_rss_mb = peak_rss_mb();
            if cli.json {
                print_json(&serde_json::json!({"report": r, "peak_rss_mb": peak_rss_mb}))?;
            } else {
                println!(
                    "{} customers: generate {:.2} s; fit + score {:.2} s ({} unique (x, t_x, T) rows; CLV interval resamples {}); peak RSS {}",
                    r.customers,
                    r.generate_s,
                    r.fit_and_score_s,
                    r.unique_rows,
                    r.interval_resamples,
                    peak_rss_mb
                        .map(|m| format!("{m:.0} MB"))
                        .unwrap_or_else(|| "n/a".into())
                );
                let phases: Vec<String> = r
                    .phases
                    .iter()
                    .map(|(p, s)| format!("{p} {s:.2} s"))
                    .collect();
                println!("  phases: {}", phases.join("; "));
                println!(
                    "  BG/NBD fitted r {:.4} α {:.3} a {:.4} b {:.4} (generated with {:?})",
                    r.bg_nbd[0], r.bg_nbd[1], r.bg_nbd[2], r.bg_nbd[3], r.bg_nbd_true
                );
                let [p, q, g] = r.gamma_gamma.unwrap_or([f64::NAN; 3]);
                println!(
                    "  Gamma-Gamma fitted p {p:.3} q {q:.3} γ {g:.3} (generated with {:?}); total CLV {:.0}",
                    r.gamma_gamma_true, r.clv_total
                );
            }
        }
        Command::Segment {
            what: SegmentKind::Cluster,
            cluster,
        } => segment::cluster(cluster, &project, cli.json)?,
        Command::Segment {
            what: SegmentKind::Rfm,
            ..
        } => {
            let store = Store::open_read_only(&project)?;
            let batches = tenure_engine::rfm_segments(&store)?;
            print_batches(&batches, cli.json)?;
        }
        Command::Generate {
            customers,
            seed,
            out,
        } => {
            let params = SimParams {
                customers,
                seed,
                ..SimParams::default()
            };
            let pb = if cli.json {
                ProgressBar::hidden()
            } else {
                ProgressBar::new(customers)
            };
            pb.set_style(
                ProgressStyle::with_template(
                    "generating {bar:30} {human_pos}/{human_len} customers [{elapsed}<{eta}]",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            let summary = tenure_engine::sim::generate(&params, &out, &mut |n| pb.set_position(n));
            pb.finish_and_clear();
            let summary = summary?;
            if cli.json {
                print_json(&summary)?;
            } else {
                println!("wrote a shop to {}:", out.display());
                println!("{}", serde_json::to_string_pretty(&summary)?);
            }
        }
        Command::Serve(args) => serve::serve(&project, args, cli.json)?,
        Command::Keys { cmd } => serve::keys(&project, cmd, cli.json)?,
        Command::Demo {
            dir,
            shop_customers,
            serve: serve_args,
        } => {
            let pb = spinner(cli.json, "demo");
            let report = tenure_engine::run_demo(
                &tenure_engine::DemoOptions {
                    dir: dir.clone(),
                    shop_customers,
                    seed: 42,
                },
                &mut |stage, n| {
                    pb.set_message(stage.to_string());
                    pb.set_position(n);
                },
            );
            pb.finish_and_clear();
            let report = report?;
            if cli.json {
                print_json(&report)?;
            } else {
                for (name, p) in [
                    ("CDNOW (real data, 1/10 sample)", &report.cdnow),
                    ("generated shop", &report.shop),
                ] {
                    println!("== {name}: {}", p.dir.display());
                    for r in &p.ingests {
                        print_ingest(r);
                    }
                    print_status(&p.status);
                    println!(
                        "features of {} customers: {}",
                        p.feature_rows,
                        p.features_file.display()
                    );
                    if let (Some(v), Some(e)) = (&p.value, &p.evaluation) {
                        println!(
                            "value: {} customers scored as of {}; CLV over 12 months {:.0}; BG/NBD holdout correlation {} ({} to {}), report {}\n",
                            v.customers,
                            v.as_of,
                            v.clv_total,
                            e.holdout
                                .correlation
                                .map(|c| format!("{c:.3}"))
                                .unwrap_or_else(|| "n/a".into()),
                            e.options.as_of,
                            e.holdout_end,
                            e.report_html.display()
                        );
                    }
                }
                println!("Report: {}", report.report_html.display());
                println!(
                    "Try: tenure --project {} sql \"SELECT * FROM orders LIMIT 5\"",
                    report.cdnow.dir.display()
                );
            }
            serve::demo_serve(&report, serve_args, cli.json)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Print query results as a JSON array of row objects (`--json`) or as a table.
fn print_batches(batches: &[RecordBatch], json: bool) -> Result<()> {
    if json {
        let mut buf = Vec::new();
        let mut w = arrow::json::ArrayWriter::new(&mut buf);
        for b in batches {
            w.write(b)?;
        }
        w.finish()?;
        drop(w);
        println!("{}", String::from_utf8_lossy(&buf));
    } else {
        println!("{}", pretty_format_batches(batches)?);
    }
    Ok(())
}

fn print_ingest(r: &IngestReport) {
    println!(
        "run {} {} → {}: read {} = accepted {} + duplicate {} + conflicting {} + rejected {}  ({:.2}s)",
        r.run_id, r.source, r.table, r.read, r.accepted, r.duplicate, r.conflicting, r.rejected, r.seconds
    );
    if r.returns + r.zero_amount > 0 {
        println!("  returns {}, zero amounts {}", r.returns, r.zero_amount);
    }
    let mapping: Vec<String> = r.mapping.iter().map(|(a, b)| format!("{a}←{b}")).collect();
    println!("  mapping: {}", mapping.join(", "));
    for w in &r.warnings {
        println!("  note: {w}");
    }
    if let Some(f) = &r.rejects_file {
        println!(
            "  refused rows (line, field, reason, raw line): {}",
            f.display()
        );
    }
}

fn print_status(s: &Status) {
    println!(
        "project {} (schema v{}, {} ingest runs)",
        s.project, s.schema_version, s.ingest_runs
    );
    println!(
        "  {:<12} {:>12} {:>10}  {:<20} {:<20}",
        "table", "rows", "customers", "first", "last"
    );
    for t in &s.tables {
        println!(
            "  {:<12} {:>12} {:>10}  {:<20} {:<20}",
            t.table,
            t.rows,
            t.customers.map_or("-".into(), |c| c.to_string()),
            t.first.as_deref().unwrap_or("-"),
            t.last.as_deref().unwrap_or("-")
        );
    }
    for c in &s.capabilities_on {
        println!("  on:  {c}");
    }
    for c in &s.capabilities_off {
        println!("  off: {c}");
    }
}

fn print_value_eval(r: &tenure_engine::ValueEvalReport) {
    let pct = |v: Option<f64>| {
        v.map(|v| format!("{:+.1}%", 100.0 * v))
            .unwrap_or_else(|| "n/a".into())
    };
    println!(
        "{} v{} fitted on {} customers up to {}; holdout {} days to {}",
        r.model_id, r.version, r.customers, r.options.as_of, r.horizon_days, r.holdout_end
    );
    let params: Vec<String> = r
        .param_names
        .iter()
        .zip(&r.params)
        .map(|(n, v)| format!("{n} {v:.4}"))
        .collect();
    println!(
        "  parameters (days): {}; log-likelihood {:.2}; converged {}",
        params.join(", "),
        r.diagnostics.log_likelihood,
        r.diagnostics.converged
    );
    for w in &r.diagnostics.warnings {
        println!("  warning: {w}");
    }
    let m = &r.holdout;
    println!(
        "  holdout repeat purchases: actual {:.0}, predicted {:.1} ({}); per-customer correlation {}; MAE {:.3}; RMSE {:.3}",
        m.total_actual,
        m.total_predicted,
        pct(m.relative_error),
        m.correlation.map(|c| format!("{c:.3}")).unwrap_or_else(|| "n/a".into()),
        m.mae,
        m.rmse
    );
    let c = &r.cumulative;
    println!(
        "  cumulative repeat purchases at week {:.1}: actual {:.0}, predicted {:.1} ({})",
        c.week,
        c.actual,
        c.predicted,
        pct(c.relative_error)
    );
    println!(
        "  {:>4} {:>10} {:>10} {:>10}",
        "x", "customers", "actual", "predicted"
    );
    for b in &r.by_frequency {
        println!(
            "  {:>4} {:>10} {:>10.3} {:>10.3}",
            format!("{}{}", b.frequency, if b.open_ended { "+" } else { "" }),
            b.n_customers,
            b.mean_actual,
            b.mean_predicted
        );
    }
    println!("  report: {}", r.report_html.display());
}

/// Peak resident memory of this process (Linux `VmHWM`), in MB.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_valid() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
