//! Authentication from memory: keys (by SHA-256 hash) and accounts are cached, and the
//! cache follows the store's change version, polled every second, so that a change
//! made anywhere (admin API, CLI, another instance) applies within 2 s (DESIGN §4).
//! A key missing from memory is looked up in the store at once, so a key works the
//! moment it is shown; hashes not found are remembered briefly and lookups are
//! bounded per second, so random keys cannot hammer the database.

use crate::error_response::ApiError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use http::request::Parts;
use modelgate_core::error::AuthFailure;
use modelgate_core::GatewayError;
use modelgate_store::{hash_key, Account, ApiKey, Snapshot, Store, StoreError, KEY_PREFIX};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

pub const REFRESH_EVERY: Duration = Duration::from_secs(1);
/// How long a hash the store does not know answers 401 without asking it again.
pub const NEGATIVE_TTL: Duration = Duration::from_secs(2);
/// Store lookups per second for keys missing from memory; beyond, a miss is 401.
pub const LOOKUPS_PER_SECOND: u32 = 50;
/// Negative entries kept before expired ones are swept (lookups bound the live ones
/// to about LOOKUPS_PER_SECOND x NEGATIVE_TTL plus the burst).
const NEGATIVE_SWEEP_AT: usize = 256;

#[derive(Default)]
struct CacheData {
    version: i64,
    by_hash: HashMap<String, Arc<ApiKey>>,
    accounts: HashMap<String, Arc<Account>>,
    /// Keys the store returned since this snapshot. They live and die with it, so a
    /// key revoked later is never kept past the next snapshot (within 2 s, §4).
    found: RwLock<HashMap<String, Authed>>,
}

#[derive(Default)]
pub struct AuthCache {
    data: RwLock<Arc<CacheData>>,
    misses: Mutex<Misses>,
}

/// Hashes the store did not know, and the lookup budget (GCRA: one lookup per
/// interval, a burst of a second's worth).
#[derive(Default)]
struct Misses {
    unknown: HashMap<String, Instant>,
    tat: Option<Instant>,
}

impl Misses {
    fn known_unknown(&self, hash: &str, now: Instant) -> bool {
        self.unknown.get(hash).is_some_and(|until| *until > now)
    }

    fn take_lookup(&mut self, now: Instant) -> bool {
        let interval = Duration::from_secs(1) / LOOKUPS_PER_SECOND;
        let burst = Duration::from_secs(1);
        let tat = self.tat.map_or(now, |t| t.max(now));
        if tat + interval > now + burst {
            return false;
        }
        self.tat = Some(tat + interval);
        true
    }

    fn remember_unknown(&mut self, hash: String, now: Instant) {
        if self.unknown.len() >= NEGATIVE_SWEEP_AT {
            self.unknown.retain(|_, until| *until > now);
        }
        self.unknown.insert(hash, now + NEGATIVE_TTL);
    }
}

/// The caller of an authenticated request.
#[derive(Debug, Clone)]
pub struct Authed {
    pub key: Arc<ApiKey>,
    pub account: Arc<Account>,
}

impl AuthCache {
    fn current(&self) -> Arc<CacheData> {
        Arc::clone(&self.data.read().unwrap_or_else(|p| p.into_inner()))
    }

    fn misses(&self) -> std::sync::MutexGuard<'_, Misses> {
        self.misses.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn version(&self) -> i64 {
        self.current().version
    }

    pub fn install(&self, snap: Snapshot) {
        let accounts: HashMap<_, _> = snap
            .accounts
            .into_iter()
            .map(|a| (a.id.clone(), Arc::new(a)))
            .collect();
        let by_hash = snap
            .keys
            .into_iter()
            .map(|k| (k.key_hash.clone(), Arc::new(k)))
            .collect();
        let data = Arc::new(CacheData {
            version: snap.version,
            by_hash,
            accounts,
            found: RwLock::default(),
        });
        *self.data.write().unwrap_or_else(|p| p.into_inner()) = data;
    }

    /// Reloads when the store's version moved; returns whether it did.
    pub async fn refresh(&self, store: &dyn Store) -> Result<bool, modelgate_store::StoreError> {
        let version = store.change_version().await?;
        if version == self.version() {
            return Ok(false);
        }
        self.install(store.snapshot().await?);
        Ok(true)
    }

    pub fn account(&self, id: &str) -> Option<Arc<Account>> {
        self.current().accounts.get(id).cloned()
    }

    /// Checks the `Authorization` header: from memory, else (a key created elsewhere
    /// since the last snapshot) from the store, within the lookup budget.
    pub async fn authenticate(
        &self,
        store: &dyn Store,
        header: Option<&str>,
        now_ms: i64,
    ) -> Result<Authed, GatewayError> {
        let header = header.ok_or(GatewayError::Unauthorized(AuthFailure::Missing))?;
        let token =
            bearer_token(header).ok_or(GatewayError::Unauthorized(AuthFailure::Malformed))?;
        if !token.starts_with(KEY_PREFIX) {
            return Err(GatewayError::Unauthorized(AuthFailure::Unknown));
        }
        let hash = hash_key(token);
        let data = self.current();
        let authed = match cached(&data, &hash)? {
            Some(authed) => authed,
            None => self.look_up(store, &data, hash).await?,
        };
        if authed.key.revoked_at.is_some() {
            return Err(GatewayError::Unauthorized(AuthFailure::Revoked));
        }
        if authed.key.expires_at.is_some_and(|at| at <= now_ms) {
            return Err(GatewayError::Unauthorized(AuthFailure::Expired));
        }
        Ok(authed)
    }

    async fn look_up(
        &self,
        store: &dyn Store,
        data: &CacheData,
        hash: String,
    ) -> Result<Authed, GatewayError> {
        let unknown = GatewayError::Unauthorized(AuthFailure::Unknown);
        {
            let now = Instant::now();
            let mut misses = self.misses();
            if misses.known_unknown(&hash, now) || !misses.take_lookup(now) {
                return Err(unknown);
            }
        }
        match store.find_key_by_hash(&hash).await {
            Ok(Some((key, account))) => {
                let authed = Authed {
                    key: Arc::new(key),
                    account: Arc::new(account),
                };
                data.found
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(hash, authed.clone());
                Ok(authed)
            }
            Ok(None) | Err(StoreError::NotFound) => {
                self.misses().remember_unknown(hash, Instant::now());
                Err(unknown)
            }
            Err(e) => {
                tracing::warn!(error = %e, "looking a key up in the store failed");
                Err(GatewayError::NotReady {
                    reason: "the key store is unreachable, so a key this instance has not \
                             loaded yet cannot be checked."
                        .into(),
                })
            }
        }
    }
}

/// The key from the snapshot or found since; `Ok(None)` when memory does not know it.
fn cached(data: &CacheData, hash: &str) -> Result<Option<Authed>, GatewayError> {
    if let Some(key) = data.by_hash.get(hash) {
        let account = data
            .accounts
            .get(&key.account_id)
            .ok_or(GatewayError::Unauthorized(AuthFailure::Unknown))?;
        return Ok(Some(Authed {
            key: Arc::clone(key),
            account: Arc::clone(account),
        }));
    }
    Ok(data
        .found
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .get(hash)
        .cloned())
}

/// `Bearer <token>`, the scheme case-insensitive (DESIGN §1).
pub fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && !token.contains(' '))
        .then_some(token)
}

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(http::header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap_or(""));
        state
            .auth
            .authenticate(
                state.store.as_ref(),
                header,
                modelgate_core::time_fmt::now_unix_ms(),
            )
            .await
            .map_err(ApiError)
    }
}

/// The admin API's caller; the API is 404 while no admin token is configured.
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        check_admin(state, &parts.headers, parts.uri.path()).map_err(ApiError)?;
        Ok(Admin)
    }
}

/// The admin token check: 404 while the admin API is off, 401 for a wrong token.
pub fn check_admin(
    state: &AppState,
    headers: &http::HeaderMap,
    path: &str,
) -> Result<(), GatewayError> {
    let Some(expected) = &state.admin_token else {
        return Err(GatewayError::RouteNotFound {
            path: path.to_owned(),
        });
    };
    let given = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
        .unwrap_or("");
    if constant_time_eq(given.as_bytes(), expected.expose().as_bytes()) {
        Ok(())
    } else {
        Err(GatewayError::Unauthorized(AuthFailure::AdminToken))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let (ha, hb) = (hash_key_bytes(a), hash_key_bytes(b));
    ha.iter()
        .zip(hb.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

fn hash_key_bytes(v: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(v).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_token("bearer mg-x"), Some("mg-x"));
        assert_eq!(bearer_token("BEARER  mg-x "), Some("mg-x"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer"), None);
    }

    #[tokio::test]
    async fn a_key_missing_from_memory_is_found_in_the_store() {
        use modelgate_store::{NewAccount, NewKey, SqliteStore};
        let store = SqliteStore::open("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        let cache = AuthCache::default();
        cache.install(store.snapshot().await.unwrap());
        let new = NewAccount {
            name: "a".into(),
            ..NewAccount::default()
        };
        let account = store.create_account(new).await.unwrap();
        let fresh = store
            .create_key(&account.id, NewKey::default())
            .await
            .unwrap();
        let bearer = |k: &str| format!("Bearer {k}");
        let auth = |h: String, now: i64| {
            let (cache, store) = (&cache, &store);
            async move { cache.authenticate(store, Some(&h), now).await }
        };
        let ok = auth(bearer(&fresh.plaintext), 0).await.unwrap();
        assert_eq!(ok.account.id, account.id);
        let expiring = NewKey {
            expires_at: Some(1_000),
            ..NewKey::default()
        };
        let expiring = store.create_key(&account.id, expiring).await.unwrap();
        let err = auth(bearer(&expiring.plaintext), 2_000).await.unwrap_err();
        assert!(matches!(
            err,
            GatewayError::Unauthorized(AuthFailure::Expired)
        ));
        // Revoked: effective with the next snapshot, which drops what was found.
        store.revoke_key(&fresh.key.id).await.unwrap();
        cache.refresh(&store).await.unwrap();
        let err = auth(bearer(&fresh.plaintext), 0).await.unwrap_err();
        assert!(matches!(
            err,
            GatewayError::Unauthorized(AuthFailure::Revoked)
        ));
        let unknown = "mg-never-issued";
        let err = auth(bearer(unknown), 0).await.unwrap_err();
        assert!(matches!(
            err,
            GatewayError::Unauthorized(AuthFailure::Unknown)
        ));
        assert!(cache
            .misses()
            .known_unknown(&hash_key(unknown), Instant::now()));
    }

    #[test]
    fn store_lookups_are_bounded_per_second() {
        let mut m = Misses::default();
        let t0 = Instant::now();
        let admitted = (0..1000).filter(|_| m.take_lookup(t0)).count();
        assert_eq!(admitted, LOOKUPS_PER_SECOND as usize, "a second's burst");
        assert!(!m.take_lookup(t0 + Duration::from_millis(10)));
        // Refills at the rate: one more per interval.
        assert!(m.take_lookup(t0 + Duration::from_millis(20)));
        assert!(!m.take_lookup(t0 + Duration::from_millis(21)));
        let later = t0 + Duration::from_secs(5);
        assert_eq!((0..1000).filter(|_| m.take_lookup(later)).count(), 50);
    }

    #[test]
    fn unknown_hashes_are_remembered_briefly_and_swept() {
        let mut m = Misses::default();
        let t0 = Instant::now();
        m.remember_unknown("h".into(), t0);
        assert!(m.known_unknown("h", t0 + Duration::from_millis(1999)));
        assert!(!m.known_unknown("h", t0 + NEGATIVE_TTL));
        for i in 0..1000 {
            m.remember_unknown(format!("h{i}"), t0 + NEGATIVE_TTL * (i / 100));
        }
        assert!(
            m.unknown.len() <= 2 * NEGATIVE_SWEEP_AT,
            "{}",
            m.unknown.len()
        );
    }
}
