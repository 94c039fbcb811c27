//! API keys: created by `tenure keys create`, shown once, stored as a salted SHA-256 hash, sent as
//! `Authorization: Bearer tnr_<id>_<secret>`, and checked against an in-memory copy of the key
//! table loaded when the server starts.
//!
//! Why SHA-256 and not argon2: the secret is 256 random bits, not a password a person chose, so
//! there is nothing for a slow hash to protect against guessing; a fast hash keeps per-request
//! verification at a microsecond. The per-key salt makes equal secrets hash differently.
//!
//! Why an in-memory copy: the server holds the store's only read-write handle (DuckDB locks the
//! file), so the key table cannot change under a running server; `tenure keys create/revoke` run
//! while it is stopped and take effect on the next start.

use std::collections::HashMap;

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tenure_engine::store::{ApiKeyRecord, Store};

use crate::error::{Result, ServerError};

/// What a key may do; each scope includes the ones below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Read customers, segments, models, metrics.
    Read,
    /// Also create segments (and, later, post events and orders).
    Write,
    /// Also see personal data unmasked.
    Admin,
}

impl Scope {
    /// Parse `read`, `write` or `admin`.
    pub fn parse(s: &str) -> Result<Scope> {
        match s.trim().to_ascii_lowercase().as_str() {
            "read" => Ok(Scope::Read),
            "write" => Ok(Scope::Write),
            "admin" => Ok(Scope::Admin),
            other => Err(ServerError::Invalid(format!(
                "scope `{other}` is not valid: use read, write or admin"
            ))),
        }
    }

    /// The scope's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Admin => "admin",
        }
    }
}

/// A key just created: the only time its secret is seen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewKey {
    /// Public id (listed, revoked by).
    pub key_id: String,
    /// The full bearer token, `tnr_<id>_<secret>`; not stored anywhere.
    pub token: String,
    /// Its scope.
    pub scope: Scope,
    /// Its label.
    pub name: Option<String>,
}

/// The caller of a request, as its key says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The key's id.
    pub key_id: String,
    /// The key's scope.
    pub scope: Scope,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    rand::rng().fill_bytes(&mut buf);
    hex(&buf)
}

fn digest(salt: &str, secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update(b":");
    h.update(secret.as_bytes());
    hex(&h.finalize())
}

/// Equal-length comparison whose time does not depend on where the inputs differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Split `tnr_<id>_<secret>` into id and secret.
fn parse_token(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix("tnr_")?;
    let (id, secret) = rest.split_once('_')?;
    (id.len() == 12 && secret.len() == 64).then_some((id, secret))
}

/// Create a key with a scope and an optional label; returns the token, which is shown once.
pub fn create_key(
    store: &Store,
    scope: Scope,
    name: Option<&str>,
    now: chrono::NaiveDateTime,
) -> Result<NewKey> {
    if let Some(n) = name {
        if n.is_empty() || n.len() > 100 || n.chars().any(char::is_control) {
            return Err(ServerError::Invalid(
                "key name must be 1 to 100 printable characters".into(),
            ));
        }
    }
    let key_id = random_hex(6);
    let secret = random_hex(32);
    let salt = random_hex(16);
    store.insert_api_key(&ApiKeyRecord {
        key_id: key_id.clone(),
        name: name.map(str::to_string),
        scope: scope.as_str().into(),
        hash: digest(&salt, &secret),
        salt,
        created_at: now,
        revoked: false,
    })?;
    Ok(NewKey {
        token: format!("tnr_{key_id}_{secret}"),
        key_id,
        scope,
        name: name.map(str::to_string),
    })
}

/// Every key (ids, names, scopes, dates, revoked flags; never secrets or hashes).
pub fn list_keys(store: &Store) -> Result<Vec<ApiKeyRecord>> {
    Ok(store.api_keys()?)
}

/// Revoke a key by id; an error when there is no such key.
pub fn revoke_key(store: &Store, key_id: &str) -> Result<()> {
    if store.revoke_api_key(key_id)? {
        Ok(())
    } else {
        Err(ServerError::Invalid(format!(
            "no key with id `{key_id}`: see `tenure keys list`"
        )))
    }
}

/// The active keys, loaded once, checked on every request.
#[derive(Debug, Default)]
pub struct KeyRing {
    keys: HashMap<String, (String, String, Scope)>,
}

impl KeyRing {
    /// Load the keys that are not revoked.
    pub fn load(store: &Store) -> Result<KeyRing> {
        let mut keys = HashMap::new();
        for k in store.api_keys()? {
            if k.revoked {
                continue;
            }
            let scope = Scope::parse(&k.scope)?;
            keys.insert(k.key_id, (k.salt, k.hash, scope));
        }
        Ok(KeyRing { keys })
    }

    /// Active keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there is no active key (then every authenticated route answers 401).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The caller a bearer token belongs to, if it is an active key.
    pub fn verify(&self, token: &str) -> Option<Caller> {
        let (id, secret) = parse_token(token)?;
        let (salt, hash, scope) = self.keys.get(id)?;
        constant_time_eq(digest(salt, secret).as_bytes(), hash.as_bytes()).then(|| Caller {
            key_id: id.to_string(),
            scope: *scope,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_verify_and_revoke() -> Result<()> {
        let store = Store::in_memory(&std::env::temp_dir())?;
        let now = chrono::Utc::now().naive_utc();
        let k = create_key(&store, Scope::Write, Some("ci"), now)?;
        let ring = KeyRing::load(&store)?;
        assert_eq!(
            ring.verify(&k.token),
            Some(Caller {
                key_id: k.key_id.clone(),
                scope: Scope::Write
            })
        );
        let mut wrong = k.token.clone();
        wrong.pop();
        wrong.push(if k.token.ends_with('0') { '1' } else { '0' });
        assert_eq!(ring.verify(&wrong), None);
        assert_eq!(ring.verify("tnr_x"), None);
        assert_eq!(ring.verify(""), None);
        let listed = list_keys(&store)?;
        assert_eq!(listed.len(), 1);
        assert!(!serde_json::to_string(&listed)
            .unwrap_or_default()
            .contains(&listed[0].hash));
        revoke_key(&store, &k.key_id)?;
        assert!(revoke_key(&store, "nope").is_err());
        assert!(KeyRing::load(&store)?.verify(&k.token).is_none());
        assert!(Scope::Read < Scope::Write && Scope::Write < Scope::Admin);
        assert!(Scope::parse("root").is_err());
        Ok(())
    }
}
