//! Pure customer-lifecycle models for tenure: RFM scores and Shopify-style RFM groups, the BTYD
//! ("buy till you die") transaction models BG/NBD and Pareto/NBD, the Gamma-Gamma spend model,
//! customer lifetime value, and holdout evaluation. Every model follows one shape: a parameter
//! struct with public fields, `Default` and serde; `fit(&self, &data) -> Result<Fitted>`; and a
//! serializable fitted type that carries its own diagnostics and answers predictions. The crate
//! does no I/O and reads no clock; all randomness is explicitly seeded (`ChaCha8Rng`).
//!
//! ```
//! use tenure_models::{BgNbdParams, BtydData, ClvParams, PurchaseModel};
//!
//! // Repeat purchases x, time of the last purchase t_x and age T, in weeks.
//! let data = BtydData::new(
//!     vec![0.0, 2.0, 5.0, 1.0, 0.0, 3.0],
//!     vec![0.0, 10.0, 30.0, 4.0, 0.0, 20.0],
//!     vec![40.0, 38.0, 35.0, 30.0, 25.0, 39.0],
//! )?;
//! let model = BgNbdParams::default().fit(&data)?;
//! let p_alive = model.probability_alive(2.0, 10.0, 38.0)?;
//! let next_quarter = model.conditional_expected_purchases(13.0, 2.0, 10.0, 38.0)?;
//! let clv = ClvParams { units_per_month: 4.345, ..ClvParams::default() }
//!     .customer_lifetime_value(&model, &data, &[25.0; 6])?;
//! assert!((0.0..=1.0).contains(&p_alive) && next_quarter >= 0.0 && clv[2] > 0.0);
//! # Ok::<(), tenure_models::Error>(())
//! ```

mod bg_nbd;
mod bootstrap;
mod cluster;
mod clv;
mod data;
mod error;
mod fit;
mod forecast;
mod fusion;
mod gamma_gamma;
mod gbdt;
mod holdout;
mod logistic;
mod matrix;
pub mod metrics;
mod optim;
mod pareto_nbd;
mod purchase;
mod rfm;
mod special;
mod summary;

pub use bg_nbd::{BgNbdFitted, BgNbdParams};
pub use bootstrap::{BootstrapParams, BootstrapResult, Interval};
pub use cluster::{
    choose_k, silhouette_score, silhouette_score_sampled, FeatureMatrix, KChoice, KMeansFitted,
    KMeansParams, KScore, StandardScaler, StandardScalerFitted,
};
pub use clv::ClvParams;
pub use data::BtydData;
pub use error::{Error, Result};
pub use fit::FitDiagnostics;
pub use forecast::{Forecast, ForecastParams};
pub use fusion::{AdamLogisticFitted, AdamLogisticParams, RandomProjection};
pub use gamma_gamma::{GammaGammaFitted, GammaGammaParams};
pub use gbdt::{GbdtFitted, GbdtParams, Node, Tree};
pub use holdout::{
    conditional_expectation_by_frequency, holdout_metrics, tracking_curve, FrequencyBucket,
    HoldoutMetrics, TrackingCurve,
};
pub use logistic::{LogisticFitted, LogisticParams};
pub use matrix::FeatureTable;
pub use pareto_nbd::{ParetoNbdFitted, ParetoNbdParams};
pub use purchase::PurchaseModel;
pub use rfm::{RfmGroup, RfmParams, RfmScore, ValueTier};
pub use summary::{summarize_transactions, TransactionSummary};
