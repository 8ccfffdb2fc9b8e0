//! Fresh stores for the contract tests.

use crate::{PostgresStore, SqliteStore, Store};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The server the PostgreSQL cases use; CI and this project's machines run one there.
fn admin_url() -> String {
    std::env::var("MODELGATE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub async fn on_sqlite<F, Fut>(case: F)
where
    F: FnOnce(&'static dyn Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let s = SqliteStore::open("sqlite::memory:").await.unwrap();
    s.migrate().await.unwrap();
    s.migrate().await.unwrap();
    let s: &'static dyn Store = Box::leak(Box::new(s));
    case(s).await;
}

pub async fn on_postgres<F, Fut>(case: F)
where
    F: FnOnce(&'static dyn Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let admin_url = admin_url();
    let admin = sqlx::PgPool::connect(&admin_url).await.unwrap_or_else(|e| {
        panic!(
            "this test needs PostgreSQL at {admin_url} (set MODELGATE_TEST_POSTGRES to another server, \
             or start one: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start): {e}"
        )
    });
    let name = format!(
        "mg_store_test_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    );
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .unwrap();
    let _drop = DropDatabase {
        admin_url: admin_url.clone(),
        name: name.clone(),
    };
    let url = match admin_url.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{name}"),
        None => panic!("MODELGATE_TEST_POSTGRES must end with /database"),
    };
    let s = PostgresStore::open(&url).await.unwrap();
    s.migrate().await.unwrap();
    s.migrate().await.unwrap();
    let s: &'static dyn Store = Box::leak(Box::new(s));
    case(s).await;
}

/// Drops the test database however the test ends, a failed assertion included.
struct DropDatabase {
    admin_url: String,
    name: String,
}

impl Drop for DropDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(admin) = sqlx::PgPool::connect(&admin_url).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&admin)
                        .await;
                }
            });
        })
        .join();
    }
}
