//! What every request shares: the connection pool, the key ring, the metrics, the options.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tenure_engine::store::{Store, MIGRATIONS};

use crate::auth::KeyRing;
use crate::error::Result;
use crate::metrics::Metrics;
use crate::pool::Pool;

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
        Ok(AppState {
            inner: Arc::new(Inner {
                pool,
                keys,
                metrics: Metrics::default(),
                opts,
                started: Instant::now(),
                schema_target: MIGRATIONS.last().map_or(0, |m| m.version),
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

    /// The connection pool, for routes added later (dashboard, live updates).
    pub fn pool(&self) -> &Arc<Pool> {
        &self.inner.pool
    }
}
