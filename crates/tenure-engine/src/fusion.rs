//! Behaviour and language fused: `tenure train churn --text` and `tenure eval churn --text`.
//!
//! Three rankings of the same evaluation customers, all fitted at the rolling origin of the
//! behaviour model (features as of t₀, labels from (t₀, as_of]) and judged at `as_of` (labels from
//! (as_of, as_of + horizon]) — never a random split:
//!
//! - **behaviour only**: the gradient-boosted trees of [`crate::train_risk`];
//! - **text only**: a logistic head trained with Adam on the mean binary cross-entropy
//!   ([`AdamLogisticParams`]) over the language features of [`crate::text_features`] plus two
//!   *text scores*: a per-text head (Adam + BCE on each review's or ticket's full embedding,
//!   labelled with its author's outcome at the training origin) gives every text a churn logit, and
//!   a customer gets the largest and the recency-weighted mean of the logits of their texts. This
//!   is the supervised reduction of the embeddings: a sentence such as "this was my last order"
//!   moves one text's logit, where averaging a customer's texts and projecting them would dilute
//!   it. At the training origin the per-text logits are out of fold (folds by customer);
//! - **fused**: the same head over [logit of the behaviour probability, language features] (the
//!   seed's model fusion, a stacked ensemble). The behaviour logit the head is trained on is
//!   *out of fold* at the training origin (K folds, each scored by trees fitted on the other
//!   folds), so the head learns how far to trust behaviour from scores it has not seen fitted —
//!   in-sample tree scores are over-confident and would crowd the text out.
//!
//! The report gives each AUC and log loss and the paired bootstrap of AUC(fused) − AUC(behaviour)
//! (1,000 resamples of the evaluation customers, seed 0; `tenure_models::metrics`). The heads are
//! saved beside the behaviour model as `fusion.json`, and the comparison is written into its
//! `report.json` (key `text`) and `report.html` (section "Behaviour and language").

use std::fmt::Write as _;
use std::time::Instant;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use tenure_models::metrics::{auc, bootstrap_auc_difference, log_loss, AucDifference};
use tenure_models::{AdamLogisticFitted, AdamLogisticParams, FeatureTable, GbdtParams};
use tenure_store::Store;

use crate::error::{EngineError, Result};
use crate::risk::{load_risk_model, origin, write_json, RiskModel, RiskTarget};
use crate::text_features::{text_features, Embedder, TextFeatureOptions, TextFeatures};

/// Settings of the fusion.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FusionOptions {
    /// The language features.
    pub text: TextFeatureOptions,
    /// The Adam + BCE head (text-only and fused).
    pub head: AdamLogisticParams,
    /// Folds of the out-of-fold behaviour scores at the training origin (≥ 2).
    pub folds: usize,
    /// Bootstrap resamples of the AUC difference.
    pub n_boot: usize,
    /// Whether the fused head also reads the projected embedding blocks (`emb_*`, `narr_*`);
    /// by default it reads the behaviour logit and the summary text columns (counts, sentiment,
    /// topics, per-text scores), and the projected blocks feed the text-only head.
    pub fuse_embeddings: bool,
}

impl Default for FusionOptions {
    /// Default text features, default head, 5 folds, 1,000 resamples, projected embedding blocks
    /// in the text-only head only (with a few thousand training customers their 48 columns add
    /// more variance than signal to the fused head; their churn signal reaches it through the
    /// per-text scores — measured in docs/RESULTS.md).
    fn default() -> Self {
        Self {
            text: TextFeatureOptions::default(),
            head: AdamLogisticParams::default(),
            folds: 5,
            n_boot: 1000,
            fuse_embeddings: false,
        }
    }
}

/// The fitted heads, saved as `models/<id>/fusion.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FusedModel {
    /// The behaviour model they sit on.
    pub model_id: String,
    /// The embedder's id (`all-minilm-l6-v2`, `hashed-256`): scoring must use the same.
    pub embedder: String,
    /// Language feature settings.
    pub text: TextFeatureOptions,
    /// Folds of the out-of-fold behaviour scores.
    pub folds: usize,
    /// Text-only head.
    pub text_head: AdamLogisticFitted,
    /// Fused head (first column: `behaviour_logit`).
    pub fused_head: AdamLogisticFitted,
    /// Per-text churn head behind the text scores (absent when the training texts hold one class).
    pub per_text_head: Option<AdamLogisticFitted>,
    /// Customers at the training origin.
    #[serde(default)]
    pub train_rows: usize,
    /// Of which with at least one review or ticket.
    #[serde(default)]
    pub train_with_text: usize,
}

/// Columns `e_0 … e_{d−1}` of the per-text embeddings.
fn per_text_table(tf: &TextFeatures) -> Result<FeatureTable> {
    let d = tf.per_text.first().map_or(0, |t| t.vector.len());
    let mut t = FeatureTable::new(tf.per_text.len());
    for j in 0..d {
        t.push(
            format!("e_{j}"),
            tf.per_text
                .iter()
                .map(|r| r.vector.get(j).map_or(f64::NAN, |&x| f64::from(x)))
                .collect(),
        )?;
    }
    Ok(t)
}

/// Adds `text_score_max` and `text_score_recent` (largest and recency-weighted mean of the per-text
/// logits; `NaN` without text) to the customer table.
fn add_text_scores(tf: &mut TextFeatures, logits: &[f64], half_life: f64) -> Result<()> {
    let n = tf.table.n_rows();
    let (mut max, mut wsum, mut w) = (vec![f64::NAN; n], vec![0.0; n], vec![0.0; n]);
    for (r, &l) in tf.per_text.iter().zip(logits) {
        let i = r.customer;
        max[i] = if max[i].is_nan() { l } else { max[i].max(l) };
        let weight = (-r.age_days / half_life * std::f64::consts::LN_2).exp();
        wsum[i] += weight * l;
        w[i] += weight;
    }
    let recent = (0..n)
        .map(|i| if w[i] > 0.0 { wsum[i] / w[i] } else { f64::NAN })
        .collect();
    tf.table.push("text_score_max", max)?;
    tf.table.push("text_score_recent", recent)?;
    Ok(())
}

/// Out-of-fold per-text logits at the training origin (fold = author's row mod `folds`, so a
/// customer's texts are never scored by a head that saw them) and the head fitted on all texts.
fn per_text_head(
    params: &AdamLogisticParams,
    tf: &TextFeatures,
    labels: &[bool],
    folds: usize,
) -> Result<Option<(AdamLogisticFitted, Vec<f64>)>> {
    let y: Vec<bool> = tf.per_text.iter().map(|r| labels[r.customer]).collect();
    let pos = y.iter().filter(|&&v| v).count();
    if pos == 0 || pos == y.len() {
        return Ok(None);
    }
    let x = per_text_table(tf)?;
    let mut oof = vec![0.0; y.len()];
    for f in 0..folds {
        let (test, train): (Vec<usize>, Vec<usize>) =
            (0..y.len()).partition(|&t| tf.per_text[t].customer % folds == f);
        if test.is_empty() {
            continue;
        }
        let yt: Vec<bool> = train.iter().map(|&t| y[t]).collect();
        let p = yt.iter().filter(|&&v| v).count();
        if p == 0 || p == yt.len() {
            return Ok(None);
        }
        let head = params.fit(&x.select_rows(&train), &yt)?;
        for (k, p) in head
            .predict_proba(&x.select_rows(&test))?
            .into_iter()
            .enumerate()
        {
            oof[test[k]] = logit(p);
        }
    }
    Ok(Some((params.fit(&x, &y)?, oof)))
}

fn per_text_logits(head: &AdamLogisticFitted, tf: &TextFeatures) -> Result<Vec<f64>> {
    if tf.per_text.is_empty() {
        return Ok(Vec::new());
    }
    Ok(head
        .predict_proba(&per_text_table(tf)?)?
        .into_iter()
        .map(logit)
        .collect())
}

/// One ranking's score on the evaluation customers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ranking {
    /// Name.
    pub name: String,
    /// What it is.
    pub description: String,
    /// AUC.
    pub auc: f64,
    /// Log loss.
    pub log_loss: f64,
}

/// The three-way comparison.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FusionReport {
    /// The behaviour model.
    pub model_id: String,
    /// What it predicts.
    pub target: RiskTarget,
    /// Embedder id.
    pub embedder: String,
    /// Training origin t₀.
    pub training_origin: NaiveDate,
    /// Evaluation origin.
    pub as_of: NaiveDate,
    /// Horizon as written.
    pub horizon: String,
    /// Customers at the training origin, and how many had written something by then.
    pub train_rows: usize,
    /// Training customers with at least one review or ticket.
    pub train_with_text: usize,
    /// Customers at the evaluation origin.
    pub eval_rows: usize,
    /// Evaluation customers with at least one review or ticket.
    pub eval_with_text: usize,
    /// Positives at the evaluation origin.
    pub eval_positives: usize,
    /// Texts and narratives embedded now / taken from the cache (both origins).
    pub embedded: usize,
    /// From the cache.
    pub cached: usize,
    /// Language feature columns.
    pub text_columns: Vec<String>,
    /// Behaviour only, text only, fused.
    pub rankings: Vec<Ranking>,
    /// Paired bootstrap of AUC(fused) − AUC(behaviour only).
    pub fused_vs_behaviour: AucDifference,
    /// Paired bootstrap of AUC(text only) − AUC(behaviour only).
    pub text_vs_behaviour: AucDifference,
    /// The fused head's largest weights (on standardized columns), by magnitude.
    pub fused_weights: Vec<(String, f64)>,
    /// Seconds spent.
    pub seconds: f64,
}

fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-6, 1.0 - 1e-6);
    (p / (1.0 - p)).ln()
}

/// Out-of-fold probabilities: row i is scored by trees fitted on the rows of the other folds
/// (fold = i mod `folds`; rows are customers in id order, so the folds are fixed).
pub fn out_of_fold(
    params: &GbdtParams,
    x: &FeatureTable,
    y: &[bool],
    folds: usize,
) -> Result<Vec<f64>> {
    if folds < 2 {
        return Err(EngineError::Invalid(format!(
            "{folds} folds: pass at least 2"
        )));
    }
    let n = x.n_rows();
    let mut out = vec![f64::NAN; n];
    for f in 0..folds {
        let (test, train): (Vec<usize>, Vec<usize>) = (0..n).partition(|i| i % folds == f);
        if test.is_empty() {
            continue;
        }
        let yt: Vec<bool> = train.iter().map(|&i| y[i]).collect();
        let model = params.fit(&x.select_rows(&train), &yt)?;
        let p = model.predict_proba(&x.select_rows(&test))?;
        for (k, &i) in test.iter().enumerate() {
            out[i] = p[k];
        }
    }
    Ok(out)
}

/// Whether a language column is a projected embedding block.
fn is_projected(name: &str) -> bool {
    name.starts_with("emb_") || name.starts_with("narr_")
}

fn with_behaviour(logits: Vec<f64>, text: &FeatureTable, embeddings: bool) -> Result<FeatureTable> {
    let mut t = FeatureTable::new(text.n_rows());
    t.push("behaviour_logit", logits)?;
    for (j, name) in text.names().iter().enumerate() {
        if embeddings || !is_projected(name) {
            t.push(name.clone(), text.column_at(j).to_vec())?;
        }
    }
    Ok(t)
}

fn ranking(name: &str, description: &str, y: &[bool], p: &[f64]) -> Result<Ranking> {
    Ok(Ranking {
        name: name.into(),
        description: description.into(),
        auc: auc(y, p)?,
        log_loss: log_loss(y, p)?,
    })
}

fn model_dir(store: &Store, model: &RiskModel) -> std::path::PathBuf {
    store.dir().join("models").join(&model.model_id)
}

/// Fit the text-only and fused heads for the latest registered model of `target` (fitted by
/// [`crate::train_risk`] with tree parameters `gbdt`), evaluate all three rankings at its origin,
/// save `fusion.json` and write the comparison into the model's reports.
pub fn train_fusion(
    store: &Store,
    target: RiskTarget,
    gbdt: &GbdtParams,
    embedder: &Embedder<'_>,
    opts: &FusionOptions,
) -> Result<FusionReport> {
    let t = Instant::now();
    let (_, model) = load_risk_model(store, target)?.ok_or_else(|| {
        EngineError::Data(format!(
            "no {} model registered: run `tenure train churn` first",
            target.name()
        ))
    })?;
    let share = model.high_value_share;
    let (train, _) = origin(
        store,
        target,
        model.training.origin,
        model.training.label_days,
        share,
    )?;
    let (eval, _) = origin(store, target, model.as_of, model.horizon_days, share)?;
    let oof = out_of_fold(gbdt, &train.table, &train.labels, opts.folds)?;
    let mut tf_train = text_features(
        store,
        model.training.origin,
        &train.cols.ids,
        embedder,
        &opts.text,
    )?;
    let mut tf_eval = text_features(store, model.as_of, &eval.cols.ids, embedder, &opts.text)?;
    let per_text = per_text_head(&opts.head, &tf_train, &train.labels, opts.folds)?;
    let per_text_head = match per_text {
        Some((head, oof)) => {
            add_text_scores(&mut tf_train, &oof, opts.text.half_life_days)?;
            let eval_logits = per_text_logits(&head, &tf_eval)?;
            add_text_scores(&mut tf_eval, &eval_logits, opts.text.half_life_days)?;
            Some(head)
        }
        None => None,
    };
    let text_head = opts.head.fit(&tf_train.table, &train.labels)?;
    let fused_train = with_behaviour(
        oof.iter().map(|&p| logit(p)).collect(),
        &tf_train.table,
        opts.fuse_embeddings,
    )?;
    let fused_head = opts.head.fit(&fused_train, &train.labels)?;
    let fused = FusedModel {
        model_id: model.model_id.clone(),
        embedder: embedder.id(),
        text: opts.text.clone(),
        folds: opts.folds,
        text_head,
        fused_head,
        per_text_head,
        train_rows: train.labels.len(),
        train_with_text: tf_train.with_text,
    };
    let mut report = compare(&model, &fused, &eval, &tf_eval, opts.n_boot)?;
    report.embedded = tf_train.embedded + tf_eval.embedded;
    report.cached = tf_train.cached + tf_eval.cached;
    report.seconds = t.elapsed().as_secs_f64();
    let dir = model_dir(store, &model);
    write_json(&dir.join("fusion.json"), &fused)?;
    attach(store, &model, &report)?;
    Ok(report)
}

fn compare(
    model: &RiskModel,
    fused: &FusedModel,
    eval: &crate::risk::Origin,
    tf: &crate::text_features::TextFeatures,
    n_boot: usize,
) -> Result<FusionReport> {
    let y = &eval.labels;
    let behaviour = model.gbdt.predict_proba(&eval.table)?;
    let text = fused.text_head.predict_proba(&tf.table)?;
    // The head reads its own columns by name.
    let fused_x = with_behaviour(
        behaviour.iter().map(|&p| logit(p)).collect(),
        &tf.table,
        true,
    )?;
    let fused_p = fused.fused_head.predict_proba(&fused_x)?;
    let rankings = vec![
        ranking(
            "behaviour_only",
            "gradient-boosted trees on the as-of behaviour features and BG/NBD outputs",
            y,
            &behaviour,
        )?,
        ranking(
            "text_only",
            "Adam + BCE logistic head on the language features (reviews and tickets: per-text churn scores, mean and recency-weighted embeddings, sentiment, ticket topics; narrative embedding)",
            y,
            &text,
        )?,
        ranking(
            "fused",
            "Adam + BCE logistic head on [behaviour logit (out of fold at the training origin), language features]",
            y,
            &fused_p,
        )?,
    ];
    let fused_vs_behaviour = bootstrap_auc_difference(y, &fused_p, &behaviour, n_boot, 0)?;
    let text_vs_behaviour = bootstrap_auc_difference(y, &text, &behaviour, n_boot, 0)?;
    let mut fused_weights: Vec<(String, f64)> = fused
        .fused_head
        .feature_names()
        .iter()
        .cloned()
        .zip(fused.fused_head.coef().iter().copied())
        .collect();
    fused_weights.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
    fused_weights.truncate(12);
    Ok(FusionReport {
        model_id: model.model_id.clone(),
        target: model.target,
        embedder: fused.embedder.clone(),
        training_origin: model.training.origin,
        as_of: model.as_of,
        horizon: model.horizon.clone(),
        train_rows: fused.train_rows,
        train_with_text: fused.train_with_text,
        eval_rows: y.len(),
        eval_with_text: tf.with_text,
        eval_positives: y.iter().filter(|&&v| v).count(),
        embedded: tf.embedded,
        cached: tf.cached,
        text_columns: tf.table.names().to_vec(),
        rankings,
        fused_vs_behaviour,
        text_vs_behaviour,
        fused_weights,
        seconds: 0.0,
    })
}

/// Re-evaluate the saved heads of the latest `target` model at its origin on the current store
/// (no refit) and rewrite the comparison in its reports. `embedder` must be the one the heads were
/// fitted with.
pub fn evaluate_fusion(
    store: &Store,
    target: RiskTarget,
    embedder: &Embedder<'_>,
    n_boot: usize,
) -> Result<FusionReport> {
    let t = Instant::now();
    let (_, model) = load_risk_model(store, target)?.ok_or_else(|| {
        EngineError::Data(format!(
            "no {} model registered: run `tenure train churn --text` first",
            target.name()
        ))
    })?;
    let path = model_dir(store, &model).join("fusion.json");
    let text = std::fs::read_to_string(&path).map_err(|_| {
        EngineError::Data(format!(
            "model {} has no text heads ({} is missing): run `tenure train churn --text`",
            model.model_id,
            path.display()
        ))
    })?;
    let fused: FusedModel = serde_json::from_str(&text).map_err(|e| {
        EngineError::Data(format!(
            "{} is not a fusion model ({e}); retrain with `tenure train churn --text`",
            path.display()
        ))
    })?;
    if fused.embedder != embedder.id() {
        return Err(EngineError::Invalid(format!(
            "the text heads of {} were fitted on {} embeddings, not {}: pass --encoder {}",
            model.model_id,
            fused.embedder,
            embedder.id(),
            fused.embedder
        )));
    }
    let (eval, _) = origin(
        store,
        target,
        model.as_of,
        model.horizon_days,
        model.high_value_share,
    )?;
    let mut tf = text_features(store, model.as_of, &eval.cols.ids, embedder, &fused.text)?;
    if let Some(head) = &fused.per_text_head {
        let logits = per_text_logits(head, &tf)?;
        add_text_scores(&mut tf, &logits, fused.text.half_life_days)?;
    }
    let mut report = compare(&model, &fused, &eval, &tf, n_boot)?;
    report.seconds = t.elapsed().as_secs_f64();
    attach(store, &model, &report)?;
    Ok(report)
}

fn esc(s: &str) -> String {
    crate::chart::escape(s)
}

/// The HTML section of the comparison.
pub fn render_fusion_html(r: &FusionReport) -> String {
    let mut s = String::from("<section id=\"text\"><h2>Behaviour and language</h2>");
    let _ = write!(
        s,
        "<p>Heads fitted at the training origin {} ({} customers, {} with reviews or tickets), evaluated as of {} over {} ({} customers, {} with text, {} positives). Embeddings: {}.</p>",
        r.training_origin,
        r.train_rows,
        r.train_with_text,
        r.as_of,
        esc(&r.horizon),
        r.eval_rows,
        r.eval_with_text,
        r.eval_positives,
        esc(&r.embedder)
    );
    s.push_str("<table><tr><th>ranking</th><th>AUC</th><th>log loss</th><th>what</th></tr>");
    for k in &r.rankings {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{:.4}</td><td>{:.4}</td><td>{}</td></tr>",
            esc(&k.name),
            k.auc,
            k.log_loss,
            esc(&k.description)
        );
    }
    let (d, t) = (&r.fused_vs_behaviour, &r.text_vs_behaviour);
    let _ = write!(
        s,
        "</table><p>AUC(fused) − AUC(behaviour only) = {:+.4} (95% paired bootstrap {:+.4} to {:+.4}, {} resamples; fused better in {:.1}%). AUC(text only) − AUC(behaviour only) = {:+.4} ({:+.4} to {:+.4}).</p>",
        d.difference.estimate,
        d.difference.lower,
        d.difference.upper,
        d.n_resamples,
        100.0 * d.share_a_better,
        t.difference.estimate,
        t.difference.lower,
        t.difference.upper
    );
    s.push_str("<h3>Largest weights of the fused head (standardized columns)</h3><table><tr><th>column</th><th>weight</th></tr>");
    for (n, w) in &r.fused_weights {
        let _ = write!(s, "<tr><td>{}</td><td>{w:+.4}</td></tr>", esc(n));
    }
    s.push_str("</table></section>\n");
    s
}

/// Write the comparison into the model's `report.json` (key `text`) and `report.html` (replacing
/// an earlier section).
fn attach(store: &Store, model: &RiskModel, r: &FusionReport) -> Result<()> {
    let dir = model_dir(store, model);
    let json_path = dir.join("report.json");
    if let Ok(text) = std::fs::read_to_string(&json_path) {
        let mut v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| EngineError::Data(format!("{}: {e}", json_path.display())))?;
        if let Some(obj) = v.as_object_mut() {
            obj.insert(
                "text".into(),
                serde_json::to_value(r).map_err(|e| EngineError::Data(e.to_string()))?,
            );
        }
        write_json(&json_path, &v)?;
    }
    let html_path = dir.join("report.html");
    if let Ok(html) = std::fs::read_to_string(&html_path) {
        let section = render_fusion_html(r);
        let start = html.find("<section id=\"text\">");
        let stop = start.and_then(|a| html[a..].find("</section>\n").map(|b| a + b));
        let html = match (start, stop) {
            (Some(a), Some(b)) => {
                format!(
                    "{}{}{}",
                    &html[..a],
                    section,
                    &html[b + "</section>\n".len()..]
                )
            }
            _ => match html.rfind("</body></html>") {
                Some(at) => format!("{}{}{}", &html[..at], section, &html[at..]),
                None => html + &section,
            },
        };
        std::fs::write(&html_path, html).map_err(|e| EngineError::io(&html_path, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_fold_scores_every_row_from_other_folds() -> Result<()> {
        let n = 200;
        let a: Vec<f64> = (0..n).map(|i| (i % 17) as f64).collect();
        let y: Vec<bool> = a.iter().map(|&v| v > 8.0).collect();
        let x = FeatureTable::from_columns(vec![("a".into(), a)])?;
        let params = GbdtParams {
            n_estimators: 20,
            min_samples_leaf: 5,
            ..GbdtParams::default()
        };
        let p = out_of_fold(&params, &x, &y, 4)?;
        assert!(p.iter().all(|v| v.is_finite()));
        assert!(auc(&y, &p)? > 0.95);
        assert!(out_of_fold(&params, &x, &y, 1).is_err());
        Ok(())
    }

    #[test]
    fn logit_is_clipped() {
        assert!(logit(0.0).is_finite() && logit(1.0).is_finite());
        assert!((logit(0.5)).abs() < 1e-12);
    }
}
