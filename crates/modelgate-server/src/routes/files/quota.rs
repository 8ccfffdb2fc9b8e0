//! Per-account bounds on `/v1/files` (issue 8): uploads per minute (GCRA), and the
//! files and bytes an account keeps (`[files] max_account_files`, `max_account_bytes`;
//! 0 means unlimited). An upload reserves its file and the bytes it expects before
//! any reach disk, grows the reservation if it writes more, and turns it into stored
//! usage once the store has its row, so concurrent uploads never pass a bound together.
//!
//! The state is this process's (one gateway per process). An account's stored usage
//! is read from the store when it has no upload in flight here, then kept in step by
//! this instance's uploads and deletes; another instance's show on the next read.

use super::super::admin::store_error;
use modelgate_core::config::FilesConfig;
use modelgate_core::error::RateLimitScope;
use modelgate_core::limits::Gcra;
use modelgate_core::GatewayError;
use modelgate_store::Store;
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, MutexGuard};
use std::time::{Duration, Instant};

static QUOTAS: LazyLock<Quotas> = LazyLock::new(Quotas::default);

/// Rate cells kept before idle ones (back to a full burst) are dropped.
const RATE_CELLS: usize = 10_000;

#[derive(Default)]
struct Quotas {
    accounts: Mutex<HashMap<String, Account>>,
    rates: Mutex<HashMap<String, Gcra>>,
}

#[derive(Default)]
struct Account {
    /// The account's stored files; `None` until the store was read.
    stored: Option<Held>,
    /// What uploads in flight have reserved.
    reserved: Held,
    /// Uploads using this entry: it is dropped at zero, so the next one reads afresh.
    users: u32,
}

#[derive(Default, Clone, Copy)]
struct Held {
    files: u64,
    bytes: u64,
}

fn accounts() -> MutexGuard<'static, HashMap<String, Account>> {
    QUOTAS.accounts.lock().unwrap_or_else(|p| p.into_inner())
}

/// Counts one upload against `[files] uploads_per_minute`: 429 with Retry-After over it.
pub fn admit_upload(account: &str, per_minute: u64) -> Result<(), GatewayError> {
    if per_minute == 0 {
        return Ok(());
    }
    let now = Instant::now();
    let mut rates = QUOTAS.rates.lock().unwrap_or_else(|p| p.into_inner());
    if rates.len() >= RATE_CELLS && !rates.contains_key(account) {
        rates.retain(|_, cell| cell.headroom(per_minute, now).1 > Duration::ZERO);
    }
    let cell = match rates.get_mut(account) {
        Some(cell) => cell,
        None => rates.entry(account.to_owned()).or_default(),
    };
    cell.admit(per_minute, 1, now)
        .map_err(|retry_after| GatewayError::RateLimited {
            retry_after,
            scope: RateLimitScope::Account,
        })
}

/// An account's bounds, from `[files]`.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    pub max_files: u64,
    pub max_bytes: u64,
}

impl Bounds {
    pub fn of(cfg: &FilesConfig) -> Self {
        Self {
            max_files: cfg.max_account_files,
            max_bytes: cfg.max_account_bytes,
        }
    }

    /// 413 unless `files` more files and `bytes` more bytes fit beside what is held.
    fn check(self, a: &Account, files: u64, bytes: u64) -> Result<(), GatewayError> {
        let stored = a.stored.unwrap_or_default();
        let held_files = stored.files.saturating_add(a.reserved.files);
        if self.max_files > 0 && held_files.saturating_add(files) > self.max_files {
            return Err(GatewayError::FileQuotaExceeded {
                files: true,
                limit: self.max_files,
            });
        }
        let held_bytes = stored.bytes.saturating_add(a.reserved.bytes);
        if self.max_bytes > 0 && held_bytes.saturating_add(bytes) > self.max_bytes {
            return Err(GatewayError::FileQuotaExceeded {
                files: false,
                limit: self.max_bytes,
            });
        }
        Ok(())
    }
}

/// One upload's claim on its account's room: given back when dropped (a failed,
/// refused or abandoned upload), unless committed.
pub struct Reservation {
    user: User,
    bounds: Bounds,
    bytes: u64,
    committed: bool,
}

/// Reserves one file and `bytes` for an upload of `account`, reading the account's
/// stored usage first when this instance holds none.
pub async fn reserve(
    store: &dyn Store,
    account: &str,
    bounds: Bounds,
    bytes: u64,
) -> Result<Reservation, GatewayError> {
    let user = User::enter(account);
    let loaded = accounts().get(account).is_some_and(|a| a.stored.is_some());
    if !loaded {
        let usage = store
            .file_usage(account)
            .await
            .map_err(|e| store_error(e, "The account's files"))?;
        let held = Held {
            files: u64::try_from(usage.files).unwrap_or(0),
            bytes: u64::try_from(usage.bytes).unwrap_or(0),
        };
        // A read that finished first is kept: nothing was committed here before it
        // (a commit needs a loaded entry), so both saw the same uploads of this
        // instance; a delete racing a read may be counted until the entry is dropped.
        if let Some(a) = accounts().get_mut(account) {
            a.stored.get_or_insert(held);
        }
    }
    let mut map = accounts();
    let a = map
        .get_mut(account)
        .ok_or_else(|| GatewayError::internal("upload quota entry vanished"))?;
    bounds.check(a, 1, bytes)?;
    a.reserved.files = a.reserved.files.saturating_add(1);
    a.reserved.bytes = a.reserved.bytes.saturating_add(bytes);
    drop(map);
    Ok(Reservation {
        user,
        bounds,
        bytes,
        committed: false,
    })
}

impl Reservation {
    /// Makes sure `total` bytes are reserved, taking more room when needed (413 when
    /// there is none): called before each chunk is written.
    pub fn cover(&mut self, total: u64) -> Result<(), GatewayError> {
        let Some(more) = total.checked_sub(self.bytes).filter(|m| *m > 0) else {
            return Ok(());
        };
        let mut map = accounts();
        let a = map
            .get_mut(&self.user.account)
            .ok_or_else(|| GatewayError::internal("upload quota entry vanished"))?;
        self.bounds.check(a, 0, more)?;
        a.reserved.bytes = a.reserved.bytes.saturating_add(more);
        self.bytes = total;
        Ok(())
    }

    /// The file is stored (its row written) with `bytes`: the reservation becomes
    /// the account's stored usage.
    pub fn commit(mut self, bytes: u64) {
        let mut map = accounts();
        if let Some(a) = map.get_mut(&self.user.account) {
            release(a, self.bytes);
            let stored = a.stored.get_or_insert_with(Held::default);
            stored.files = stored.files.saturating_add(1);
            stored.bytes = stored.bytes.saturating_add(bytes);
        }
        self.committed = true;
    }
}

/// Runs before its `User` leaves the entry.
impl Drop for Reservation {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        if let Some(a) = accounts().get_mut(&self.user.account) {
            release(a, self.bytes);
        }
    }
}

fn release(a: &mut Account, bytes: u64) {
    a.reserved.files = a.reserved.files.saturating_sub(1);
    a.reserved.bytes = a.reserved.bytes.saturating_sub(bytes);
}

/// A file of `account` with `bytes` was deleted through this instance.
pub fn deleted(account: &str, bytes: u64) {
    if let Some(stored) = accounts().get_mut(account).and_then(|a| a.stored.as_mut()) {
        stored.files = stored.files.saturating_sub(1);
        stored.bytes = stored.bytes.saturating_sub(bytes);
    }
}

/// Keeps an account's entry alive while an upload uses it: from before its stored
/// usage is read (a cancelled upload leaves the map as it found it) to the end.
struct User {
    account: String,
}

impl User {
    fn enter(account: &str) -> Self {
        let mut map = accounts();
        match map.get_mut(account) {
            Some(a) => a.users += 1,
            None => {
                let a = Account {
                    users: 1,
                    ..Account::default()
                };
                map.insert(account.to_owned(), a);
            }
        }
        User {
            account: account.to_owned(),
        }
    }
}

impl Drop for User {
    fn drop(&mut self) {
        let mut map = accounts();
        if let Some(a) = map.get_mut(&self.account) {
            a.users = a.users.saturating_sub(1);
            if a.users == 0 {
                map.remove(&self.account);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_count_stored_and_reserved() {
        let bounds = Bounds {
            max_files: 3,
            max_bytes: 100,
        };
        let a = Account {
            stored: Some(Held {
                files: 1,
                bytes: 40,
            }),
            reserved: Held {
                files: 1,
                bytes: 50,
            },
            users: 1,
        };
        assert!(bounds.check(&a, 1, 10).is_ok());
        let e = bounds.check(&a, 1, 11).unwrap_err();
        assert_eq!(e.status(), 413);
        assert!(
            e.message().contains("DELETE /v1/files/{id}"),
            "{}",
            e.message()
        );
        let e = bounds.check(&a, 2, 0).unwrap_err();
        assert!(e.message().contains("3 files"), "{}", e.message());
        let unlimited = Bounds {
            max_files: 0,
            max_bytes: 0,
        };
        assert!(unlimited.check(&a, 1000, u64::MAX).is_ok());
    }

    #[test]
    fn the_upload_rate_refuses_past_the_burst() {
        let account = "acct-rate-test";
        for _ in 0..2 {
            admit_upload(account, 2).unwrap();
        }
        let e = admit_upload(account, 2).unwrap_err();
        assert_eq!(e.status(), 429);
        assert!(e.retry_after().is_some_and(|d| d > Duration::ZERO));
        assert!(admit_upload(account, 0).is_ok(), "0 is unlimited");
    }
}
