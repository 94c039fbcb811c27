//! A small pool of store connections for request handlers.
//!
//! The server opens the project once, read-write (DuckDB lets one process hold the file), and
//! clones that connection `size` times. DuckDB connections are `Send` but not `Sync`: each is used
//! by one thread at a time. A handler waits (asynchronously) for a free connection, then runs its
//! engine call on tokio's blocking threads, so slow queries never stall the async workers. The
//! connection goes back to the pool when the call ends — also when the request timed out and
//! was dropped, or the call panicked — because the lease returns it on drop.

use std::sync::{Arc, Mutex};

use tenure_engine::store::Store;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{ApiError, Result};

/// Connections to the project's store, shared by all requests.
pub struct Pool {
    idle: Mutex<Vec<Store>>,
    permits: Arc<Semaphore>,
    size: usize,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").field("size", &self.size).finish()
    }
}

struct Lease {
    pool: Arc<Pool>,
    store: Option<Store>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(s) = self.store.take() {
            if let Ok(mut idle) = self.pool.idle.lock() {
                idle.push(s);
            }
        }
    }
}

impl Pool {
    /// `size` connections (at least 1): the given store and `size - 1` clones of it.
    pub fn new(store: Store, size: usize) -> Result<Arc<Pool>> {
        let size = size.max(1);
        let mut idle = Vec::with_capacity(size);
        for _ in 1..size {
            idle.push(store.try_clone()?);
        }
        idle.push(store);
        Ok(Arc::new(Pool {
            idle: Mutex::new(idle),
            permits: Arc::new(Semaphore::new(size)),
            size,
        }))
    }

    /// Connections in the pool.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Run `f` with a connection on a blocking thread and return its result.
    pub async fn run<T, F>(self: &Arc<Self>, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> T + Send + 'static,
    {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ApiError::Internal("connection pool closed".into()))?;
        let store = self
            .idle
            .lock()
            .map_err(|_| ApiError::Internal("connection pool poisoned".into()))?
            .pop()
            .ok_or_else(|| ApiError::Internal("connection pool empty under a permit".into()))?;
        let lease = Lease {
            pool: Arc::clone(self),
            store: Some(store),
            _permit: permit,
        };
        tokio::task::spawn_blocking(move || {
            let lease = lease;
            match &lease.store {
                Some(s) => Ok(f(s)),
                None => Err(ApiError::Internal("lease without a connection".into())),
            }
        })
        .await
        .map_err(|e| ApiError::Internal(format!("store worker failed: {e}")))?
    }
}
