//! What every request shares: the connection pool, the key ring, the metrics, the options.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tenure_engine::store::{Store, MIGRATIONS};

use crate::auth::KeyRing;
use crate::cache::ProfileCache;
use crate::error::Result;
use crate::jobs::Jobs;
use crate::metrics::Metrics;
use crate::pool::Pool;
use crate::text::TextModels;

/// Where the one-line JSON request logs go.
#[derive(Debug, Clone, Default)]
pub enum LogSink {
    /// Standard error (the default).
    #[default]
    Stderr,
    /// Nowhere.
    Off,
    /// Kept in memory (tests read them).
    Memory(Arc<Mutex<Vec<String>>>),
}

impl LogSink {
    /// Write one line.
    pub fn line(&self, line: &str) {
        match self {
            LogSink::Stderr => eprintln!("{line}"),
            LogSink::Off => {}
            LogSink::Memory(v) => {
                if let Ok(mut v) = v.lock() {
                    v.push(line.to_string());
                }
            }
        }
    }
}

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Address to listen on.
    pub addr: SocketAddr,
    /// Largest request body accepted (bytes); larger ones get 413.
    pub body_limit: usize,
    /// Longest a request may take before it gets 503.
    pub timeout: Duration,
    /// Store connections in the pool.
    pub workers: usize,
    /// Request log destination.
    pub log: LogSink,
    /// The model cache the text routes load encoders from (`tenure models pull` installs there);
    /// default `$TENURE_HOME/models`, else `~/.cache/tenure/models`.
    pub models_dir: Option<std::path::PathBuf>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            body_limit: 1 << 20,
            timeout: Duration::from_secs(30),
            workers: std::thread::available_parallelism()
                .map_or(2, |n| n.get())
                .clamp(2, 8),
            log: LogSink::Stderr,
            models_dir: opts_models_dir(),
        }
    }
}

pub(crate) struct Inner {
    pub(crate) pool: Arc<Pool>,
    pub(crate) keys: KeyRing,
    pub(crate) metrics: Metrics,
    pub(crate) opts: ServeOptions,
    pub(crate) started: Instant,
    pub(crate) schema_target: i64,
    /// Held by every request that writes (live ingest, retrain jobs): one writer at a time, so
    /// writes never conflict in the store; reads go on beside them.
    pub(crate) write_lock: Arc<tokio::sync::Mutex<()>>,
    /// Retrain jobs, in memory (lost on restart).
    pub(crate) jobs: Jobs,
    /// The language models of the text routes, loaded on first use.
    pub(crate) text: TextModels,
    /// Answers of `GET /v1/customers/{id}`, dropped on every write.
    pub(crate) profiles: ProfileCache,
}

/// The model cache of the text routes: `$TENURE_HOME/models`, else `~/.cache/tenure/models` (where
/// `tenure models pull` installs them).
fn opts_models_dir() -> Option<std::path::PathBuf> {
    if let Some(home) = std::env::var_os("TENURE_HOME") {
        return Some(std::path::PathBuf::from(home).join("models"));
    }
    std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cache/tenure/models"))
}

/// The server's shared state; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("pool", &self.inner.pool)
            .field("keys", &self.inner.keys.len())
            .field("opts", &self.inner.opts)
            .finish()
    }
}

impl AppState {
    /// Open the project read-write (migrating it) and build the state around it.
    pub fn open(project: &Path, opts: ServeOptions) -> Result<AppState> {
        Self::from_store(Store::open(project)?, opts)
    }

    /// Build the state around an open store: load the keys and clone the pool's connections.
    pub fn from_store(store: Store, opts: ServeOptions) -> Result<AppState> {
        let keys = KeyRing::load(&store)?;
        let pool = Pool::new(store, opts.workers)?;
        let models_dir = opts.models_dir.clone();
        Ok(AppState {
            inner: Arc::new(Inner {
                pool,
                keys,
                metrics: Metrics::default(),
                opts,
                started: Instant::now(),
                schema_target: MIGRATIONS.last().map_or(0, |m| m.version),
                write_lock: Arc::new(tokio::sync::Mutex::new(())),
                jobs: Jobs::default(),
                text: TextModels::new(models_dir),
                profiles: ProfileCache::default(),
            }),
        })
    }

    /// Active API keys loaded.
    pub fn active_keys(&self) -> usize {
        self.inner.keys.len()
    }

    /// The options it runs with.
    pub fn options(&self) -> &ServeOptions {
        &self.inner.opts
    }

    /// Fill the profile cache with every scored customer's profile (PII masked), a chunk at a
    /// time on one store connection, stopping if a write comes in. `tenure serve` runs it in the
    /// background at start; `/metrics` shows `tenure_profile_cache_warm 1` when it is done.
    pub async fn warm_profiles(self) {
        let cache = &self.inner.profiles;
        let gen = cache.generation();
        let ids = self
            .inner
            .pool
            .run(|s| -> tenure_engine::Result<Vec<String>> {
                let rows = tenure_engine::rows_json(&s.query_arrow(
                    "SELECT customer_id FROM customer_scores WHERE run_id = (SELECT run_id FROM score_runs ORDER BY created_at DESC, run_id DESC LIMIT 1) ORDER BY customer_id",
                )?)?;
                Ok(rows
                    .into_iter()
                    .filter_map(|r| r.get("customer_id")?.as_str().map(str::to_string))
                    .collect())
            })
            .await;
        let Ok(Ok(ids)) = ids else {
            return;
        };
        for chunk in ids.chunks(64) {
            if cache.generation() != gen || cache.len() >= crate::cache::MAX_ENTRIES {
                return;
            }
            let chunk = chunk.to_vec();
            let done = self
                .inner
                .pool
                .run(move |s| {
                    chunk
                        .into_iter()
                        .filter_map(|id| {
                            let p = tenure_engine::customer_profile(
                                s,
                                &id,
                                tenure_engine::PiiMode::Masked,
                            )
                            .ok()??;
                            Some((id, serde_json::to_vec(&p).ok()?))
                        })
                        .collect::<Vec<_>>()
                })
                .await;
            let Ok(done) = done else {
                return;
            };
            for (id, bytes) in done {
                cache.put(&id, tenure_engine::PiiMode::Masked, gen, Arc::new(bytes));
            }
        }
        cache.set_warm(gen);
    }

    /// The connection pool, for routes added later (dashboard, live updates).
    pub fn pool(&self) -> &Arc<Pool> {
        &self.inner.pool
    }
}
