//! The customer-profile cache behind `GET /v1/customers/{id}`.
//!
//! A profile takes several store queries (about 30 ms on an idle 2-core machine; DuckDB spends
//! about 1 ms on even a trivial query), far too slow to answer thousands of requests a second. The
//! answer only changes when the store does, and the server holds the store alone (DuckDB lets one
//! process open the file), so every change goes through this process: writes (live ingest,
//! retrain jobs) bump a generation after they commit, and a cached answer of an older generation is
//! never served. Answers are kept as the JSON bytes sent, per (customer, PII mode). `tenure serve`
//! fills the cache for every customer (masked) in the background at start; until then, and after
//! each write, profiles are computed on first request and cached.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use tenure_engine::PiiMode;

/// Answers kept at most (about 3 KB each, so ~300 MB); beyond it, new answers are computed on
/// every request and not kept, and the start-up fill stops.
pub const MAX_ENTRIES: usize = 100_000;

type Key = (String, u8);

/// A cached answer: its generation and the JSON bytes.
type Entry = (u64, Arc<Vec<u8>>);

/// Cached profile answers, by customer and PII mode.
#[derive(Debug, Default)]
pub struct ProfileCache {
    generation: AtomicU64,
    map: RwLock<HashMap<Key, Entry>>,
    warm: AtomicBool,
}

fn mode(p: PiiMode) -> u8 {
    match p {
        PiiMode::Masked => 0,
        PiiMode::Hashed => 1,
        PiiMode::Plain => 2,
    }
}

impl ProfileCache {
    /// The current generation: take it *before* computing an answer, and [`put`](Self::put) with it.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// The cached answer, if it is of the current generation.
    pub fn get(&self, id: &str, pii: PiiMode) -> Option<Arc<Vec<u8>>> {
        let g = self.generation();
        let map = self.map.read().ok()?;
        match map.get(&(id.to_string(), mode(pii))) {
            Some((gen, bytes)) if *gen == g => Some(Arc::clone(bytes)),
            _ => None,
        }
    }

    /// Keep an answer computed at generation `gen` (ignored when a write came in meanwhile).
    pub fn put(&self, id: &str, pii: PiiMode, gen: u64, bytes: Arc<Vec<u8>>) {
        if gen != self.generation() {
            return;
        }
        if let Ok(mut map) = self.map.write() {
            if map.len() < MAX_ENTRIES || map.contains_key(&(id.to_string(), mode(pii))) {
                map.insert((id.to_string(), mode(pii)), (gen, bytes));
            }
        }
    }

    /// The store changed: drop every answer.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut map) = self.map.write() {
            map.clear();
        }
        self.warm.store(false, Ordering::SeqCst);
    }

    /// Answers held.
    pub fn len(&self) -> usize {
        self.map.read().map_or(0, |m| m.len())
    }

    /// Whether the start-up fill finished with no write since.
    pub fn is_warm(&self) -> bool {
        self.warm.load(Ordering::SeqCst)
    }

    /// Mark the fill of generation `gen` finished.
    pub fn set_warm(&self, gen: u64) {
        if gen == self.generation() {
            self.warm.store(true, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_hides_every_older_answer() {
        let c = ProfileCache::default();
        let g = c.generation();
        c.put("a", PiiMode::Masked, g, Arc::new(b"1".to_vec()));
        assert_eq!(c.get("a", PiiMode::Masked).as_deref(), Some(&b"1".to_vec()));
        assert!(c.get("a", PiiMode::Hashed).is_none());
        c.set_warm(g);
        assert!(c.is_warm());
        c.invalidate();
        assert!(!c.is_warm());
        assert!(c.get("a", PiiMode::Masked).is_none());
        // An answer computed before the write is not kept after it.
        c.put("a", PiiMode::Masked, g, Arc::new(b"stale".to_vec()));
        assert!(c.get("a", PiiMode::Masked).is_none());
        assert_eq!(c.len(), 0);
    }
}
