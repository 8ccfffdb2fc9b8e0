//! Authentication from memory: keys (by SHA-256 hash) and accounts are cached, and the
//! cache follows the store's change version, polled every second, so that a change
//! made anywhere (admin API, CLI, another instance) applies within 2 s (DESIGN §4).

use crate::error_response::ApiError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use http::request::Parts;
use modelgate_core::error::AuthFailure;
use modelgate_core::GatewayError;
use modelgate_store::{hash_key, Account, ApiKey, Snapshot, Store, KEY_PREFIX};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

pub const REFRESH_EVERY: Duration = Duration::from_secs(1);

#[derive(Default)]
struct CacheData {
    version: i64,
    by_hash: HashMap<String, Arc<ApiKey>>,
    accounts: HashMap<String, Arc<Account>>,
}

#[derive(Default)]
pub struct AuthCache {
    data: RwLock<Arc<CacheData>>,
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

    pub fn authenticate(&self, header: Option<&str>, now_ms: i64) -> Result<Authed, GatewayError> {
        let header = header.ok_or(GatewayError::Unauthorized(AuthFailure::Missing))?;
        let token =
            bearer_token(header).ok_or(GatewayError::Unauthorized(AuthFailure::Malformed))?;
        if !token.starts_with(KEY_PREFIX) {
            return Err(GatewayError::Unauthorized(AuthFailure::Unknown));
        }
        let data = self.current();
        let key = data
            .by_hash
            .get(&hash_key(token))
            .ok_or(GatewayError::Unauthorized(AuthFailure::Unknown))?;
        if key.revoked_at.is_some() {
            return Err(GatewayError::Unauthorized(AuthFailure::Revoked));
        }
        if key.expires_at.is_some_and(|at| at <= now_ms) {
            return Err(GatewayError::Unauthorized(AuthFailure::Expired));
        }
        let account = data
            .accounts
            .get(&key.account_id)
            .ok_or(GatewayError::Unauthorized(AuthFailure::Unknown))?;
        Ok(Authed {
            key: Arc::clone(key),
            account: Arc::clone(account),
        })
    }
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
            .authenticate(header, modelgate_core::time_fmt::now_unix_ms())
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
}
