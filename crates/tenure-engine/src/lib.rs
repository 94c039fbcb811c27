//! tenure's engine: the pipeline that joins the store, the shop simulator and (as they land) the
//! models, behind one API that both faces — the CLI and the HTTP server — call. It holds no
//! presentation logic: it takes typed options, does the work, and returns typed reports.

mod bench;
mod chart;
mod customers;
mod dashboard;
mod demo;
mod error;
mod fusion;
mod live;
mod named_segments;
mod narrative;
mod risk;
mod segment;
mod sentiment;
mod text_features;
mod value;
mod value_eval;
mod value_file;

pub use bench::{bench_value, ValueBenchReport};
pub use chart::{escape, line_chart, Series};
pub use customers::{
    churn_column, customer_profile, group_meaning, latest_score_run, list_customers, rows_json,
    CustomerPage, CustomerProfile, CustomerQuery, CustomerSort, Driver, JsonRow, PiiMode, ScoreRun,
    Why, DEFAULT_PAGE, MAX_PAGE,
};
pub use dashboard::{
    cohorts, customer_detail, model_dir, model_report, models, overview, rfm_grid,
    risk_distribution, search_customers, sentiment_trend, Activity, Bin, ClassifierCurves,
    CohortRow, Cohorts, CustomerDetail, CustomerSearch, GroupRisk, ModelReport, MonthAmount,
    Overview, RfmCell, RfmGrid, RiskDistribution, RiskSource, SentimentMonth, SentimentTrend,
    TrackingCurve, ACTIVE_P_ALIVE, LOST_P_ALIVE, MAX_COHORTS, SEARCH_LIMIT,
};
pub use demo::{
    render_demo_html, run_demo, DemoOptions, DemoReport, ProjectReport, CDNOW_MAPPING, CDNOW_SAMPLE,
};
pub use error::{EngineError, Result};
pub use fusion::{
    evaluate_fusion, out_of_fold, render_fusion_html, train_fusion, FusedModel, FusionOptions,
    FusionReport, Ranking,
};
pub use live::{
    load_value_fit, rescore_customers, retrain, save_value_fit, score_buyer, BuyerValue, Change,
    CustomerChange, LiveUpdate, OneCustomer, RetrainModel, ValueFit, VALUE_FIT_DIR,
};
pub use named_segments::{
    create_segment, export_segment, list_segments, rfm_slug, validate_predicate,
    validate_segment_name, ExportFormat, SegmentExport, SegmentSize, SegmentsReport,
    MAX_PREDICATE_LEN, PREDICATE_COLUMNS, RFM_GROUPS,
};
pub use narrative::{
    facts_sql, gather_facts, narrate, narrate_zh, narrative_row, write_narratives, NarrativeFacts,
    NarrativeSummary, TicketTopic, TICKET_TOPICS,
};
pub use risk::{
    as_of_guard, bench_risk, buyer_columns, evaluate_risk, high_value_labels, load_risk_model,
    p_no_purchase, render_risk_html, score_customer, score_risk, train_risk, training_window,
    truncated_features_sql, AsOfGuard, Baseline, RiskBenchReport, RiskEval, RiskModel, RiskOptions,
    RiskReport, RiskScoreSummary, RiskTarget, TrainingWindow, BASE_COLUMNS, BTYD_COLUMNS,
    OPTIONAL_COLUMNS,
};
pub use segment::{
    assign_customer, cluster_customers, cluster_sizes_sql, load_cluster_model, segment_clusters,
    tokenize, ClusterAssignment, ClusterFit, ClusterModel, ClusterOptions, ClusterProfile,
    ClusterSummary, FeatureColumn, FeatureSpec, Missing, CLUSTER_MODEL_KIND,
};
pub use sentiment::{
    analyze_reviews, builtin_sentiment_head, embed_cached, train_sentiment, AnalyzeReviewsOptions,
    AnalyzeReviewsReport, SentimentData, TrainSentimentOptions, TrainSentimentReport,
    BUILTIN_SENTIMENT_HEADS,
};
pub use text_features::{
    hash_tokens, hashed_embedding, is_chinese_text, is_cjk, text_features, CustomerText, Embedder,
    TextFeatureOptions, TextFeatures,
};
pub use value::{
    last_order_date, rfm_segments, score_customers, score_value, CustomerColumns, GroupSummary,
    ValueOptions, ValueOutputs, ValueScores, ValueSummary, AUTO_INTERVAL_MAX_BUYERS,
};
pub use value_eval::{
    evaluate_value, render_html, CumulativeCheck, PurchaseModelKind, SpendCheck, ValueEvalOptions,
    ValueEvalReport,
};
pub use value_file::{score_orders_file, FileValueSummary};

/// The store, re-exported so the faces depend on the engine alone.
pub use tenure_store as store;

/// The shop simulator, re-exported for `tenure generate` and the demo.
pub use tenure_sim as sim;
