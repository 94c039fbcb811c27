//! `tenure segment cluster`: behaviour segments by k-means, each named by its defining traits and the
//! top words of its members' reviews and tickets.
//!
//! The path: as-of features (plus the latest value scores, when there are some, and — when the
//! project holds reviews or tickets — the mean embedding of each customer's texts reduced to four
//! dimensions) → missing values filled and skewed counts and money put on a log scale → z-scores →
//! k-means for every k in a range, k chosen by silhouette → clusters named from their centroids →
//! `customer_clusters` rows and a saved model (`models/<id>/model.json`) that assigns one customer
//! without refitting.
//!
//! The pure core, [`cluster_customers`], takes any named numeric columns plus optional per-customer
//! text.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use tenure_models::{
    choose_k, FeatureMatrix, KMeansFitted, KMeansParams, KScore, StandardScaler,
    StandardScalerFitted,
};
use tenure_store::arrow::array::{ArrayRef, Date32Array, Float64Array, Int32Array, StringArray};
use tenure_store::arrow::record_batch::RecordBatch;
use tenure_store::{ModelRecord, Store};

use crate::error::{EngineError, Result};
use crate::text_features::is_cjk;
use crate::value::{f64_col, str_col};

/// Registry kind of a saved cluster model.
pub const CLUSTER_MODEL_KIND: &str = "kmeans_segments";

/// How a missing value (NaN) of a feature is filled before clustering; resolved to a number at fit
/// time and saved with the model, so one customer is filled exactly as the training rows were.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Missing {
    /// 0 (counts, money, scores of customers who never bought).
    Zero,
    /// The largest observed value (recency of a customer who never bought: as stale as the stalest).
    Max,
    /// The median of the observed values.
    Median,
}

/// One named input column of [`cluster_customers`], raw (NaN = missing).
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureColumn {
    /// Feature name (also the key of [`ClusterModel::assign`]).
    pub name: String,
    /// One value per customer.
    pub values: Vec<f64>,
    /// Put on a log scale first: sign(x)·ln(1 + |x|). For right-skewed counts and money, whose few
    /// very large values would otherwise own a cluster each.
    pub log1p: bool,
    /// How a missing value is filled.
    pub missing: Missing,
}

/// How a raw feature value becomes a model input (before z-scoring), saved with the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureSpec {
    /// Feature name.
    pub name: String,
    /// Whether sign(x)·ln(1 + |x|) is applied.
    pub log1p: bool,
    /// The raw value that stands in for a missing one.
    pub fill: f64,
}

impl FeatureSpec {
    fn forward(&self, raw: f64) -> f64 {
        let v = if raw.is_finite() { raw } else { self.fill };
        if self.log1p {
            v.signum() * v.abs().ln_1p()
        } else {
            v
        }
    }

    fn inverse(&self, v: f64) -> f64 {
        if self.log1p {
            v.signum() * v.abs().exp_m1()
        } else {
            v
        }
    }
}

/// One cluster as reported and saved: size, name, centroid and top words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterProfile {
    /// Cluster number (0-based, by decreasing size).
    pub cluster: usize,
    /// Name from its defining traits, e.g. "high spend · recent · frequent".
    pub name: String,
    /// The same name in Chinese.
    pub name_zh: String,
    /// Customers in it.
    pub size: usize,
    /// Its share of all customers.
    pub share: f64,
    /// Centroid in original units, one value per feature (log-scaled features mapped back with
    /// expm1, so money and counts read as geometric-mean-like typical values).
    pub centroid: Vec<f64>,
    /// Centroid in z-scores: how many standard deviations each feature sits from the mean.
    pub centroid_z: Vec<f64>,
    /// Most distinctive words of its members' text (c-TF-IDF), empty without text.
    pub top_words: Vec<String>,
}

/// A fitted segmentation: preprocessing, scaler, k-means and the cluster profiles. Serialised to
/// `models/<id>/model.json`; [`ClusterModel::assign`] places one customer without refitting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterModel {
    /// Registry id (empty until saved).
    pub model_id: String,
    /// As-of day of the training features, if from a store.
    pub as_of: Option<NaiveDate>,
    /// Value-scores run whose P(alive), expected purchases and CLV were features, if any.
    pub scores_run_id: Option<String>,
    /// Raw value → model input, per feature, in column order.
    pub features: Vec<FeatureSpec>,
    /// Z-score parameters.
    pub scaler: StandardScalerFitted,
    /// Centroids in z-score space.
    pub kmeans: KMeansFitted,
    /// Mean silhouette of the chosen k.
    pub silhouette: f64,
    /// Every k tried.
    pub k_scores: Vec<KScore>,
    /// One profile per cluster, indexed by cluster number.
    pub clusters: Vec<ClusterProfile>,
}

/// Where one customer lands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterAssignment {
    /// Cluster number.
    pub cluster: usize,
    /// Its name.
    pub name: String,
    /// Its Chinese name.
    pub name_zh: String,
    /// Euclidean distance to the centroid in z-score space.
    pub distance: f64,
}

impl ClusterModel {
    /// Assign one customer's raw feature row given in model column order (NaN = missing).
    pub fn assign_row(&self, raw: &[f64]) -> Result<ClusterAssignment> {
        if raw.len() != self.features.len() {
            return Err(EngineError::Data(format!(
                "the cluster model takes {} features, got {}",
                self.features.len(),
                raw.len()
            )));
        }
        let x: Vec<f64> = self
            .features
            .iter()
            .zip(raw)
            .map(|(f, &v)| f.forward(v))
            .collect();
        let z = self.scaler.transform_row(&x)?;
        let (cluster, distance) = self.kmeans.predict_row(&z)?;
        let p = self.clusters.get(cluster).ok_or_else(|| {
            EngineError::Data(format!("the cluster model has no profile {cluster}"))
        })?;
        Ok(ClusterAssignment {
            cluster,
            name: p.name.clone(),
            name_zh: p.name_zh.clone(),
            distance,
        })
    }

    /// Assign one customer from named raw features (the HTTP API's shape). A feature that is absent,
    /// or not finite, is filled as at training time; names the model does not use are ignored.
    pub fn assign(&self, features: &BTreeMap<String, f64>) -> Result<ClusterAssignment> {
        let raw: Vec<f64> = self
            .features
            .iter()
            .map(|f| features.get(&f.name).copied().unwrap_or(f64::NAN))
            .collect();
        self.assign_row(&raw)
    }

    /// Feature names in model order.
    pub fn feature_names(&self) -> Vec<&str> {
        self.features.iter().map(|f| f.name.as_str()).collect()
    }
}

/// Options of a clustering run.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterOptions {
    /// Features as of this day; default: the last order day.
    pub as_of: Option<NaiveDate>,
    /// Smallest k tried (at least 2).
    pub k_min: usize,
    /// Largest k tried.
    pub k_max: usize,
    /// k-means settings (its `n_clusters` is ignored: k comes from the range).
    pub kmeans: KMeansParams,
    /// The silhouette is exact up to this many customers and measured on a seeded sample of this
    /// many above (O(sample²) per k).
    pub silhouette_sample: usize,
    /// Top words reported per cluster.
    pub top_words: usize,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            as_of: None,
            k_min: 3,
            k_max: 8,
            kmeans: KMeansParams::default(),
            silhouette_sample: 3_000,
            top_words: 8,
        }
    }
}

/// The result of [`cluster_customers`]: the model and every customer's assignment.
#[derive(Debug, Clone)]
pub struct ClusterFit {
    /// The fitted model.
    pub model: ClusterModel,
    /// Cluster per customer, in input order.
    pub labels: Vec<usize>,
    /// Distance to the assigned centroid (z-score space), per customer.
    pub distances: Vec<f64>,
}

/// Segment customers: fill, log-scale and standardise the columns, choose k by silhouette in
/// `opts.k_min..=opts.k_max`, fit k-means, renumber clusters by decreasing size, name each from
/// its centroid and (given `texts`, one per customer) its top words.
///
/// Columns whose values are all missing or all equal are dropped (they cannot separate anyone).
pub fn cluster_customers(
    columns: &[FeatureColumn],
    texts: Option<&[String]>,
    opts: &ClusterOptions,
) -> Result<ClusterFit> {
    let n = columns.first().map_or(0, |c| c.values.len());
    if n == 0 {
        return Err(EngineError::Data(
            "no customers to cluster: ingest orders first".into(),
        ));
    }
    if let Some(c) = columns.iter().find(|c| c.values.len() != n) {
        return Err(EngineError::Data(format!(
            "feature {} has {} values for {n} customers",
            c.name,
            c.values.len()
        )));
    }
    if let Some(t) = texts {
        if t.len() != n {
            return Err(EngineError::Data(format!(
                "{} texts for {n} customers",
                t.len()
            )));
        }
    }
    let mut specs = Vec::new();
    let mut cols = Vec::new();
    for c in columns {
        let mut seen: Vec<f64> = c.values.iter().copied().filter(|v| v.is_finite()).collect();
        if seen.is_empty() {
            continue;
        }
        seen.sort_by(f64::total_cmp);
        let fill = match c.missing {
            Missing::Zero => 0.0,
            Missing::Max => seen[seen.len() - 1],
            Missing::Median => seen[seen.len() / 2],
        };
        let spec = FeatureSpec {
            name: c.name.clone(),
            log1p: c.log1p,
            fill,
        };
        let v: Vec<f64> = c.values.iter().map(|&v| spec.forward(v)).collect();
        if v.iter().all(|x| *x == v[0]) {
            continue;
        }
        specs.push(spec);
        cols.push(v);
    }
    if specs.is_empty() {
        return Err(EngineError::Data(
            "every feature is missing or constant: there is nothing to cluster on".into(),
        ));
    }
    let names: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
    let x = FeatureMatrix::from_columns(names, &cols)?;
    let scaler = StandardScaler::default().fit(&x)?;
    let z = scaler.transform(&x)?;
    if n < 3 || n <= opts.k_min.max(2) {
        return Err(EngineError::Data(format!(
            "{n} customers are too few for k ≥ {}: clustering needs more customers than clusters",
            opts.k_min.max(2)
        )));
    }
    let choice = choose_k(
        &opts.kmeans,
        &z,
        opts.k_min..=opts.k_max,
        opts.silhouette_sample,
    )?;
    let mut kmeans = choice.model;
    // Renumber by decreasing size (ties by old number) so cluster 0 is the largest.
    let mut order: Vec<usize> = (0..kmeans.n_clusters()).collect();
    order.sort_by_key(|&j| (std::cmp::Reverse(kmeans.sizes[j]), j));
    kmeans.centroids = order.iter().map(|&j| kmeans.centroids[j].clone()).collect();
    kmeans.sizes = order.iter().map(|&j| kmeans.sizes[j]).collect();
    let mut model = ClusterModel {
        model_id: String::new(),
        as_of: None,
        scores_run_id: None,
        features: specs,
        scaler,
        kmeans,
        silhouette: choice.silhouette,
        k_scores: choice.scores,
        clusters: Vec::new(),
    };
    let k = model.kmeans.n_clusters();
    let mut labels = Vec::with_capacity(n);
    let mut distances = Vec::with_capacity(n);
    for i in 0..n {
        let (j, d) = model.kmeans.predict_row(z.row(i))?;
        labels.push(j);
        distances.push(d);
    }
    let mut sizes = vec![0usize; k];
    for &l in &labels {
        sizes[l] += 1;
    }
    let names = name_clusters(&model.feature_names(), &model.kmeans.centroids);
    let words = match texts {
        Some(t) => top_words(t, &labels, k, opts.top_words),
        None => vec![Vec::new(); k],
    };
    for (j, ((name, name_zh), top)) in names.into_iter().zip(words).enumerate() {
        let zc = model.kmeans.centroids[j].clone();
        let centroid = model
            .scaler
            .inverse_transform_row(&zc)?
            .into_iter()
            .zip(&model.features)
            .map(|(v, f)| f.inverse(v))
            .collect();
        model.clusters.push(ClusterProfile {
            cluster: j,
            name,
            name_zh,
            size: sizes[j],
            share: sizes[j] as f64 / n as f64,
            centroid,
            centroid_z: zc,
            top_words: top,
        });
    }
    Ok(ClusterFit {
        model,
        labels,
        distances,
    })
}

/// Trait words of a feature: (theme, high in English, high in Chinese, low in English, low in Chinese).
/// At most one trait per theme goes into a name, so correlated features (spend and CLV) do not
/// repeat each other.
fn vocabulary(feature: &str) -> (String, String, String, String, String) {
    let known: Option<[&str; 5]> = match feature {
        "orders" => Some(["frequency", "frequent", "高频", "one-off", "低频"]),
        "expected_purchases_90d" => Some([
            "frequency",
            "buying again soon",
            "近期将复购",
            "no purchase expected",
            "近期无复购",
        ]),
        "recency_days" => Some(["activity", "lapsed", "久未购买", "recent", "近期购买"]),
        "p_alive" => Some([
            "activity",
            "likely active",
            "大概率活跃",
            "likely gone",
            "大概率流失",
        ]),
        "tenure_days" => Some(["tenure", "long-standing", "老客", "new", "新客"]),
        "spend_total" => Some(["spend", "high spend", "高消费", "low spend", "低消费"]),
        "clv" => Some([
            "spend",
            "high future value",
            "高未来价值",
            "low future value",
            "低未来价值",
        ]),
        "avg_order_value" => Some([
            "basket",
            "big baskets",
            "大额订单",
            "small baskets",
            "小额订单",
        ]),
        "returns" => Some([
            "returns",
            "returns often",
            "常退货",
            "rarely returns",
            "少退货",
        ]),
        _ => None,
    };
    match known {
        Some([t, he, hz, le, lz]) => (t.into(), he.into(), hz.into(), le.into(), lz.into()),
        None => (
            feature.to_string(),
            format!("high {feature}"),
            format!("{feature}高"),
            format!("low {feature}"),
            format!("{feature}低"),
        ),
    }
}

/// Smallest |z| of a centroid coordinate that counts as a defining trait.
const TRAIT_MIN_Z: f64 = 0.3;

/// Name every cluster by its largest standardised centroid deviations, in plain words: up to three
/// traits with |z| ≥ 0.3 (at least one), one per theme, strongest first. Clusters that would share a
/// name get more traits until they differ, and a number as a last resort.
fn name_clusters(features: &[&str], centroids: &[Vec<f64>]) -> Vec<(String, String)> {
    // Per cluster, its traits in order of strength, one per theme.
    let traits: Vec<Vec<(f64, String, String)>> = centroids
        .iter()
        .map(|c| {
            let mut idx: Vec<usize> = (0..c.len()).collect();
            idx.sort_by(|&a, &b| c[b].abs().total_cmp(&c[a].abs()));
            let mut themes = Vec::new();
            let mut out = Vec::new();
            for j in idx {
                let (theme, he, hz, le, lz) = vocabulary(features[j]);
                if themes.contains(&theme) {
                    continue;
                }
                themes.push(theme);
                let (en, zh) = if c[j] >= 0.0 { (he, hz) } else { (le, lz) };
                out.push((c[j].abs(), en, zh));
            }
            out
        })
        .collect();
    let mut used: Vec<usize> = traits
        .iter()
        .map(|t| {
            t.iter()
                .take(3)
                .filter(|(z, _, _)| *z >= TRAIT_MIN_Z)
                .count()
                .max(1)
                .min(t.len())
        })
        .collect();
    let render = |j: usize, used: &[usize]| -> (String, String) {
        let t = &traits[j][..used[j]];
        (
            t.iter()
                .map(|x| x.1.as_str())
                .collect::<Vec<_>>()
                .join(" · "),
            t.iter()
                .map(|x| x.2.as_str())
                .collect::<Vec<_>>()
                .join(" · "),
        )
    };
    loop {
        let names: Vec<(String, String)> = (0..traits.len()).map(|j| render(j, &used)).collect();
        let mut grew = false;
        for j in 0..traits.len() {
            let clash = (0..traits.len()).any(|i| i != j && names[i].0 == names[j].0);
            if clash && used[j] < traits[j].len() {
                used[j] += 1;
                grew = true;
            }
        }
        if !grew {
            // Still equal after every trait: number the duplicates.
            let mut out = names.clone();
            for j in 0..out.len() {
                if (0..j).any(|i| names[i].0 == names[j].0) {
                    out[j].0 = format!("{} ({})", names[j].0, j + 1);
                    out[j].1 = format!("{} ({})", names[j].1, j + 1);
                }
            }
            return out;
        }
    }
}

const STOP_WORDS: &[&str] = &[
    "a", "about", "after", "again", "all", "also", "am", "an", "and", "any", "are", "as", "at",
    "be", "been", "but", "by", "can", "could", "did", "do", "does", "for", "from", "had", "has",
    "have", "he", "her", "his", "i", "if", "in", "into", "is", "it", "its", "just", "me", "my",
    "of", "on", "one", "or", "our", "she", "so", "than", "that", "the", "their", "them", "then",
    "there", "they", "this", "to", "too", "us", "was", "we", "were", "what", "when", "which",
    "will", "with", "would", "you", "your",
];

/// Chinese function characters: a bigram holding one of them is not a topic word.
const ZH_STOP_CHARS: &str = "的了是我你他她它们吗呢吧啊也都就很这那有在和";

/// Tokens of a text: lower-cased runs of Latin letters and digits (at least two characters, not all
/// digits, not a stop word; an apostrophe inside a word is dropped) and, for runs of CJK characters, their character bigrams (no word
/// segmentation needed; bigrams holding a function character are dropped).
pub fn tokenize(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut latin = String::new();
    let mut cjk: Vec<char> = Vec::new();
    let flush_latin = |latin: &mut String, out: &mut Vec<String>| {
        if latin.chars().count() >= 2
            && !latin.chars().all(|c| c.is_ascii_digit())
            && !STOP_WORDS.contains(&latin.as_str())
        {
            out.push(std::mem::take(latin));
        }
        latin.clear();
    };
    let flush_cjk = |cjk: &mut Vec<char>, out: &mut Vec<String>| {
        for w in cjk.windows(2) {
            if !w.iter().any(|c| ZH_STOP_CHARS.contains(*c)) {
                out.push(w.iter().collect());
            }
        }
        cjk.clear();
    };
    for c in text.chars() {
        if (c == '\'' || c == '’') && !latin.is_empty() {
            // "hasn't" → "hasnt": an apostrophe inside a word does not split it.
            continue;
        }
        if is_cjk(c) {
            flush_latin(&mut latin, &mut out);
            cjk.push(c);
        } else if c.is_alphanumeric() {
            flush_cjk(&mut cjk, &mut out);
            latin.extend(c.to_lowercase());
        } else {
            flush_latin(&mut latin, &mut out);
            flush_cjk(&mut cjk, &mut out);
        }
    }
    flush_latin(&mut latin, &mut out);
    flush_cjk(&mut cjk, &mut out);
    out
}

/// The `n` most distinctive words of each cluster by their pointwise KL divergence from all text
/// (Tomokiyo & Hurst 2003, "A language model approach to keyphrase extraction", eq. 2):
/// W(t, c) = p(t | c) · ln(p(t | c) / p(t)), with p(t | c) the share of cluster c's tokens that are
/// t and p(t) its share of all tokens — a simple tf-idf in which the "idf" is how over-represented
/// the word is in the cluster, so words every cluster uses ("order") score near zero. Only words
/// over-represented in the cluster (ratio > 1) and used by at least three customers are kept.
fn top_words(texts: &[String], labels: &[usize], k: usize, n: usize) -> Vec<Vec<String>> {
    let mut tf: Vec<HashMap<String, f64>> = vec![HashMap::new(); k];
    let mut total = vec![0.0f64; k];
    let mut df: HashMap<String, usize> = HashMap::new();
    for (text, &l) in texts.iter().zip(labels) {
        let toks = tokenize(text);
        let mut seen: Vec<&String> = toks.iter().collect();
        seen.sort_unstable();
        seen.dedup();
        for t in seen {
            *df.entry(t.clone()).or_default() += 1;
        }
        total[l] += toks.len() as f64;
        for t in toks {
            *tf[l].entry(t).or_default() += 1.0;
        }
    }
    let mut f: HashMap<&str, f64> = HashMap::new();
    for m in &tf {
        for (t, c) in m {
            *f.entry(t.as_str()).or_default() += c;
        }
    }
    let all = total.iter().sum::<f64>().max(1.0);
    tf.iter()
        .zip(&total)
        .map(|(m, &size)| {
            let mut scored: Vec<(f64, &str)> = m
                .iter()
                .filter(|(t, _)| df.get(*t).copied().unwrap_or(0) >= 3)
                .filter_map(|(t, &c)| {
                    let p_c = c / size.max(1.0);
                    let p = f.get(t.as_str()).copied().unwrap_or(c) / all;
                    (p_c > p).then(|| (p_c * (p_c / p).ln(), t.as_str()))
                })
                .collect();
            scored.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(y.1)));
            scored
                .into_iter()
                .take(n)
                .map(|(_, t)| t.to_string())
                .collect()
        })
        .collect()
}

/// What a clustering run did.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterSummary {
    /// Run id in `customer_clusters`.
    pub run_id: String,
    /// Registry id of the saved model (`models/<id>/model.json`).
    pub model_id: String,
    /// Its version among cluster models.
    pub version: i64,
    /// As-of day of the features.
    pub as_of: NaiveDate,
    /// Customers clustered.
    pub customers: usize,
    /// Value-scores run whose outputs were features, if any.
    pub scores_run_id: Option<String>,
    /// Features used, in order (the columns of each centroid).
    pub features: Vec<String>,
    /// The chosen k.
    pub k: usize,
    /// Its mean silhouette.
    pub silhouette: f64,
    /// Silhouette and inertia of every k tried.
    pub k_scores: Vec<KScore>,
    /// Whether top words come from reviews/tickets text.
    pub has_text: bool,
    /// The clusters, largest first.
    pub clusters: Vec<ClusterProfile>,
    /// The saved model file.
    pub model_path: std::path::PathBuf,
}

/// The behaviour features read from the store: (column, log1p, missing fill). Money and counts are
/// right-skewed, so they are log-scaled; recency of a customer who never bought is the stalest
/// recency; value scores of a customer without a score are 0.
const STORE_FEATURES: &[(&str, bool, Missing)] = &[
    ("orders", true, Missing::Zero),
    ("recency_days", false, Missing::Max),
    ("tenure_days", false, Missing::Zero),
    ("spend_total", true, Missing::Zero),
    ("avg_order_value", true, Missing::Zero),
    ("returns", true, Missing::Zero),
];

/// Value-score columns joined from `customer_scores`: (column, log1p).
const SCORE_FEATURES: &[(&str, bool)] = &[
    ("p_alive", false),
    ("expected_purchases_90d", true),
    ("clv", true),
];

/// The latest value-scores run on or before `as_of` (never a later one: that would leak).
fn scores_run(store: &Store, as_of: NaiveDate) -> Result<Option<String>> {
    if store.count("customer_scores")? == 0 {
        return Ok(None);
    }
    let b = store.query_arrow(&format!(
        "SELECT run_id FROM score_runs WHERE as_of <= DATE '{as_of}' \
         AND run_id IN (SELECT DISTINCT run_id FROM customer_scores) \
         ORDER BY as_of DESC, created_at DESC LIMIT 1"
    ))?;
    Ok(str_col(&b, "run_id")?.into_iter().next())
}

fn sql_text(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Raw feature columns for the customers of the features query (all, or one), in store order.
fn store_columns(
    store: &Store,
    as_of: NaiveDate,
    scores: Option<&str>,
    customer: Option<&str>,
) -> Result<(Vec<String>, Vec<FeatureColumn>)> {
    let sql = match customer {
        Some(id) => store.customer_features_sql(as_of, id)?,
        None => store.features_sql(as_of)?,
    };
    let f = store.query_arrow(&sql)?;
    let ids = str_col(&f, "customer_id")?;
    let mut cols = Vec::new();
    for &(name, log1p, missing) in STORE_FEATURES {
        cols.push(FeatureColumn {
            name: name.into(),
            values: f64_col(&f, name)?,
            log1p,
            missing,
        });
    }
    if let Some(run) = scores {
        let filter = match customer {
            Some(id) => format!(" AND customer_id = {}", sql_text(id)),
            None => String::new(),
        };
        let b = store.query_arrow(&format!(
            "SELECT customer_id, {} FROM customer_scores WHERE run_id = {}{filter}",
            SCORE_FEATURES
                .iter()
                .map(|(c, _)| *c)
                .collect::<Vec<_>>()
                .join(", "),
            sql_text(run)
        ))?;
        let sid = str_col(&b, "customer_id")?;
        let pos: HashMap<&str, usize> = sid
            .iter()
            .enumerate()
            .map(|(i, s)| (s.as_str(), i))
            .collect();
        for &(name, log1p) in SCORE_FEATURES {
            let v = f64_col(&b, name)?;
            cols.push(FeatureColumn {
                name: name.into(),
                values: ids
                    .iter()
                    .map(|id| pos.get(id.as_str()).map_or(f64::NAN, |&i| v[i]))
                    .collect(),
                log1p,
                missing: Missing::Zero,
            });
        }
    }
    cols.extend(text_columns(store, as_of, &ids)?);
    Ok((ids, cols))
}

/// Dimensions of the reduced text embedding a customer is clustered on.
const TEXT_DIMS: usize = 4;

/// The mean embedding of each customer's reviews and tickets up to `as_of`, reduced to
/// [`TEXT_DIMS`] columns (`emb_mean_*`) by the seeded random projection of `text_features`; none
/// when the store holds no text. Embeddings are signed feature hashes of the words (deterministic,
/// no model file), so a single customer re-assigned later gets exactly the columns the clusters
/// were fitted on. A customer without text sits at 0, the projection's neutral point.
fn text_columns(store: &Store, as_of: NaiveDate, ids: &[String]) -> Result<Vec<FeatureColumn>> {
    if store.count("reviews")? + store.count("tickets")? == 0 || ids.is_empty() {
        return Ok(Vec::new());
    }
    let tf = crate::text_features::text_features(
        store,
        as_of,
        ids,
        &crate::text_features::Embedder::Hashed { dim: 256 },
        &crate::text_features::TextFeatureOptions {
            projection_dim: TEXT_DIMS,
            narrative: false,
            text_embeddings: true,
            ..Default::default()
        },
    )?;
    (0..TEXT_DIMS)
        .map(|j| {
            let name = format!("emb_mean_{j}");
            let values = tf.table.column(&name).map(<[f64]>::to_vec).ok_or_else(|| {
                EngineError::Data(format!("text features lack {name}; please report this"))
            })?;
            Ok(FeatureColumn {
                name,
                values,
                log1p: false,
                missing: Missing::Zero,
            })
        })
        .collect()
}

/// Each customer's reviews and tickets up to `as_of`, joined into one text, aligned with `ids`;
/// `None` when the store holds neither.
fn store_texts(store: &Store, as_of: NaiveDate, ids: &[String]) -> Result<Option<Vec<String>>> {
    let cutoff = as_of
        .succ_opt()
        .ok_or_else(|| EngineError::Data(format!("as-of date {as_of} is out of range")))?;
    let mut parts = Vec::new();
    for t in ["reviews", "tickets"] {
        if store.count(t)? > 0 {
            parts.push(format!(
                "SELECT customer_id, text FROM {t} WHERE created_at < TIMESTAMP '{cutoff} 00:00:00'"
            ));
        }
    }
    if parts.is_empty() {
        return Ok(None);
    }
    let b = store.query_arrow(&format!(
        "SELECT customer_id, string_agg(text, ' ') AS text FROM ({}) GROUP BY customer_id",
        parts.join(" UNION ALL ")
    ))?;
    let cid = str_col(&b, "customer_id")?;
    let text = str_col(&b, "text")?;
    let by: HashMap<&str, &str> = cid
        .iter()
        .map(String::as_str)
        .zip(text.iter().map(String::as_str))
        .collect();
    Ok(Some(
        ids.iter()
            .map(|id| by.get(id.as_str()).copied().unwrap_or("").to_string())
            .collect(),
    ))
}

fn days_since_epoch(d: NaiveDate) -> i32 {
    (d - NaiveDate::default()).num_days() as i32
}

/// Segment every customer as of a day: build the behaviour matrix from the as-of features (orders,
/// recency, tenure, spend, average order value and returns; counts and money on a log scale) plus
/// P(alive), expected purchases in 90 days and CLV of the latest value-scores run on or before the
/// day, when there is one; cluster it with [`cluster_customers`] (top words from reviews and tickets
/// when the store has them); append one row per customer to `customer_clusters`; and save the model
/// to `models/<id>/model.json` with a registry row. `now` stamps the run, the model id and the
/// registry row.
pub fn segment_clusters(
    store: &Store,
    opts: &ClusterOptions,
    now: NaiveDateTime,
) -> Result<ClusterSummary> {
    let as_of = match opts.as_of {
        Some(d) => d,
        None => crate::value::last_order_date(store)?,
    };
    let scores = scores_run(store, as_of)?;
    let (ids, cols) = store_columns(store, as_of, scores.as_deref(), None)?;
    let texts = store_texts(store, as_of, &ids)?;
    let fit = cluster_customers(&cols, texts.as_deref(), opts)?;
    let mut model = fit.model;
    let stamp = now.format("%Y%m%dT%H%M%S%.3f");
    let model_id = format!("{CLUSTER_MODEL_KIND}-{stamp}");
    let run_id = format!("clusters-{as_of}-{stamp}");
    model.model_id = model_id.clone();
    model.as_of = Some(as_of);
    model.scores_run_id = scores.clone();

    let n = ids.len();
    let batch = RecordBatch::try_from_iter([
        (
            "run_id",
            Arc::new(StringArray::from(vec![run_id.as_str(); n])) as ArrayRef,
        ),
        (
            "as_of",
            Arc::new(Date32Array::from(vec![days_since_epoch(as_of); n])) as ArrayRef,
        ),
        (
            "customer_id",
            Arc::new(StringArray::from(
                ids.iter().map(String::as_str).collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
        (
            "cluster",
            Arc::new(Int32Array::from(
                fit.labels.iter().map(|&l| l as i32).collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
        (
            "cluster_name",
            Arc::new(StringArray::from(
                fit.labels
                    .iter()
                    .map(|&l| model.clusters[l].name.as_str())
                    .collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
        (
            "distance",
            Arc::new(Float64Array::from(fit.distances.clone())) as ArrayRef,
        ),
    ])
    .map_err(|e| EngineError::Data(e.to_string()))?;

    let dir = store.dir().join("models").join(&model_id);
    std::fs::create_dir_all(&dir).map_err(|e| EngineError::io(&dir, e))?;
    let path = dir.join("model.json");
    let json = serde_json::to_string_pretty(&model)
        .map_err(|e| EngineError::Data(format!("cluster model as JSON: {e}")))?;
    std::fs::write(&path, json).map_err(|e| EngineError::io(&path, e))?;
    store.append_derived("customer_clusters", &[batch])?;
    let version = store.register_model(&ModelRecord {
        model_id: model_id.clone(),
        kind: CLUSTER_MODEL_KIND.into(),
        version: 0,
        trained_at: now,
        as_of: Some(as_of),
        params: serde_json::json!({
            "k_min": opts.k_min,
            "k_max": opts.k_max,
            "kmeans": opts.kmeans,
            "silhouette_sample": opts.silhouette_sample,
            "features": model.feature_names(),
            "scores_run_id": scores,
        })
        .to_string(),
        metrics: serde_json::json!({
            "k": model.kmeans.n_clusters(),
            "silhouette": model.silhouette,
            "k_scores": model.k_scores,
            "inertia": model.kmeans.inertia,
        })
        .to_string(),
        artifact_path: Some(format!("models/{model_id}")),
    })?;
    Ok(ClusterSummary {
        run_id,
        model_id,
        version,
        as_of,
        customers: n,
        scores_run_id: model.scores_run_id.clone(),
        features: model
            .feature_names()
            .into_iter()
            .map(String::from)
            .collect(),
        k: model.kmeans.n_clusters(),
        silhouette: model.silhouette,
        k_scores: model.k_scores.clone(),
        has_text: texts.is_some(),
        clusters: model.clusters.clone(),
        model_path: path,
    })
}

/// The saved cluster model `model_id`, or the newest one when `None`.
pub fn load_cluster_model(store: &Store, model_id: Option<&str>) -> Result<ClusterModel> {
    let rec = store
        .models()?
        .into_iter()
        .filter(|m| m.kind == CLUSTER_MODEL_KIND)
        .find(|m| model_id.is_none_or(|id| m.model_id == id))
        .ok_or_else(|| {
            EngineError::Data(match model_id {
                Some(id) => {
                    format!("no cluster model {id}: see `tenure sql \"SELECT * FROM models\"`")
                }
                None => "no cluster model yet: run `tenure segment cluster` first".into(),
            })
        })?;
    let path = store
        .dir()
        .join(
            rec.artifact_path
                .unwrap_or_else(|| format!("models/{}", rec.model_id)),
        )
        .join("model.json");
    let text = std::fs::read_to_string(&path).map_err(|e| EngineError::io(&path, e))?;
    serde_json::from_str(&text)
        .map_err(|e| EngineError::Data(format!("{} is not a cluster model: {e}", path.display())))
}

/// Assign one customer to a cluster of a saved model without refitting: read their features as of
/// `as_of` (default: the model's as-of day) and their value scores from the latest run on or before
/// it, exactly as [`segment_clusters`] builds a row, and take the nearest centroid. After new events,
/// pass a later `as_of` to re-place the customer.
pub fn assign_customer(
    store: &Store,
    model: &ClusterModel,
    customer_id: &str,
    as_of: Option<NaiveDate>,
) -> Result<ClusterAssignment> {
    let as_of = match as_of.or(model.as_of) {
        Some(d) => d,
        None => store
            .last_order_date()?
            .ok_or_else(|| EngineError::Data("the store has no orders".into()))?,
    };
    let uses_scores = model
        .features
        .iter()
        .any(|f| SCORE_FEATURES.iter().any(|(c, _)| *c == f.name));
    let scores = if uses_scores {
        scores_run(store, as_of)?
    } else {
        None
    };
    let (ids, cols) = store_columns(store, as_of, scores.as_deref(), Some(customer_id))?;
    if ids.is_empty() {
        return Err(EngineError::Data(format!(
            "customer {customer_id} is not known on {as_of}"
        )));
    }
    let row: BTreeMap<String, f64> = cols.iter().map(|c| (c.name.clone(), c.values[0])).collect();
    model.assign(&row)
}

/// The SQL behind a quick look at a clustering run: size and mean distance per cluster.
pub fn cluster_sizes_sql(run_id: &str) -> String {
    format!(
        "SELECT cluster, cluster_name, count(*) AS customers, round(avg(distance), 3) AS mean_distance \
         FROM customer_clusters WHERE run_id = {} GROUP BY cluster, cluster_name ORDER BY cluster",
        sql_text(run_id)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, values: Vec<f64>, log1p: bool, missing: Missing) -> FeatureColumn {
        FeatureColumn {
            name: name.into(),
            values,
            log1p,
            missing,
        }
    }

    /// Two obvious groups: frequent big spenders and one-off small spenders.
    fn two_groups() -> (Vec<FeatureColumn>, Vec<String>) {
        let mut orders = Vec::new();
        let mut spend = Vec::new();
        let mut recency = Vec::new();
        let mut texts = Vec::new();
        for i in 0..40 {
            let jitter = (i % 5) as f64;
            if i % 2 == 0 {
                orders.push(20.0 + jitter);
                spend.push(2_000.0 + 10.0 * jitter);
                recency.push(5.0 + jitter);
                texts.push("Love the kettle, fast delivery. 很好用的水壶".to_string());
            } else {
                orders.push(1.0);
                spend.push(20.0 + jitter);
                recency.push(if i == 1 { f64::NAN } else { 300.0 + jitter });
                texts.push("Parcel arrived late and broken, refund please".to_string());
            }
        }
        (
            vec![
                col("orders", orders, true, Missing::Zero),
                col("spend_total", spend, true, Missing::Zero),
                col("recency_days", recency, false, Missing::Max),
                col("constant", vec![1.0; 40], false, Missing::Zero),
            ],
            texts,
        )
    }

    #[test]
    fn clusters_names_and_words_follow_the_data() {
        let (cols, texts) = two_groups();
        let opts = ClusterOptions {
            k_min: 2,
            k_max: 4,
            ..Default::default()
        };
        let fit = cluster_customers(&cols, Some(&texts), &opts).expect("clusters");
        let m = &fit.model;
        assert_eq!(m.kmeans.n_clusters(), 2);
        assert_eq!(
            m.feature_names(),
            vec!["orders", "spend_total", "recency_days"]
        );
        let big = fit.labels[0];
        let small = fit.labels[1];
        assert_ne!(big, small);
        assert!(fit.labels.iter().step_by(2).all(|&l| l == big));
        let name = &m.clusters[big].name;
        assert!(
            name.contains("frequent") && name.contains("recent"),
            "{name}"
        );
        assert!(
            m.clusters[small].name.contains("lapsed"),
            "{}",
            m.clusters[small].name
        );
        assert!(m.clusters[big].name_zh.contains("高频"));
        let words = &m.clusters[small].top_words;
        assert!(words.iter().any(|w| w == "late"), "{words:?}");
        assert!(m.clusters[big].top_words.iter().any(|w| w == "水壶"));
        // The centroid is in original units: about 22 orders for the frequent group.
        assert!((m.clusters[big].centroid[0] - 22.0).abs() < 2.0);
        // One row through the saved model equals the batch assignment, and a missing recency is
        // filled as at training time (the stalest recency).
        let json = serde_json::to_string(m).expect("serialises");
        let back: ClusterModel = serde_json::from_str(&json).expect("round-trips");
        for i in 0..40 {
            let row: BTreeMap<String, f64> =
                cols.iter().map(|c| (c.name.clone(), c.values[i])).collect();
            let a = back.assign(&row).expect("assigns");
            assert_eq!(a.cluster, fit.labels[i]);
            assert!((a.distance - fit.distances[i]).abs() < 1e-12);
        }
        assert!(back.assign_row(&[1.0]).is_err());
    }

    #[test]
    fn names_are_distinct_even_for_similar_centroids() {
        let f = ["orders", "spend_total", "recency_days"];
        let names = name_clusters(
            &f,
            &[
                vec![1.0, 0.1, 0.0],
                vec![1.0, -0.1, 0.0],
                vec![1.0, 0.1, 0.0],
            ],
        );
        // Same first trait: a second one separates cluster 1; 0 and 2 stay equal after every
        // trait, so the later one is numbered.
        assert_eq!(names[0].0, "frequent · high spend · lapsed");
        assert_eq!(names[1].0, "frequent · low spend");
        assert_eq!(names[2].0, "frequent · high spend · lapsed (3)");
        assert_eq!(names[1].1, "高频 · 低消费");
        assert!(names.iter().all(|n| !n.0.is_empty() && !n.1.is_empty()));
    }

    #[test]
    fn tokenizer_splits_latin_and_bigrams_cjk() {
        assert_eq!(
            tokenize("The Kettle is GREAT, 2 stars? 很好用的水壶!"),
            vec!["kettle", "great", "stars", "好用", "水壶"]
        );
    }

    #[test]
    fn refuses_what_it_cannot_cluster() {
        let one = vec![col("orders", vec![1.0, 2.0], false, Missing::Zero)];
        assert!(cluster_customers(&one, None, &ClusterOptions::default()).is_err());
        let nan = vec![col("x", vec![f64::NAN; 10], false, Missing::Zero)];
        let err = cluster_customers(&nan, None, &ClusterOptions::default()).expect_err("nothing");
        assert!(err.to_string().contains("nothing to cluster"), "{err}");
    }
}
