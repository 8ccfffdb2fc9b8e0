//! One contract, every backend: each case runs against SQLite (in memory) and
//! PostgreSQL (a fresh database per test, dropped afterwards).

use crate::model::*;
use crate::{FileUsage, Store, StoreError};

mod backends;

use backends::{on_postgres, on_sqlite};

async fn accounts_keys_and_versions(s: &dyn Store) {
    let v0 = s.change_version().await.unwrap();
    let a = s
        .create_account(NewAccount {
            name: "team".into(),
            credits_nano: 5,
            ..NewAccount::default()
        })
        .await
        .unwrap();
    assert_eq!(
        s.add_credits(&a.id, 10, Some("top-up".into()))
            .await
            .unwrap(),
        15
    );
    let k = s.create_key(&a.id, NewKey::default()).await.unwrap();
    assert!(k.plaintext.starts_with("mg-"));
    assert_eq!(k.key.key_hash, crate::hash_key(&k.plaintext));
    s.revoke_key(&k.key.id).await.unwrap();
    let snap = s.snapshot().await.unwrap();
    assert!(snap.version > v0);
    assert!(snap.keys[0].revoked_at.is_some());
    assert!(matches!(
        s.revoke_key("nope").await,
        Err(StoreError::NotFound)
    ));
}

async fn usage_pages_newest_first(s: &dyn Store) {
    let rec = |i: i64| UsageRecord {
        request_id: format!("r{i}"),
        account_id: "a".into(),
        key_id: "k".into(),
        model: "m/x".into(),
        provider: None,
        prompt_tokens: 1,
        completion_tokens: 2,
        images: 0,
        cost_nano: 3,
        status: 200,
        error_type: None,
        latency_ms: 4,
        attempts: 1,
        created_at: i,
    };
    s.insert_usage(&(0..5).map(rec).collect::<Vec<_>>())
        .await
        .unwrap();
    let mut q = UsageQuery {
        account_id: Some("a".into()),
        limit: 2,
        ..UsageQuery::default()
    };
    let p1 = s.list_usage(&q).await.unwrap();
    assert_eq!(
        p1.records.iter().map(|r| r.created_at).collect::<Vec<_>>(),
        vec![4, 3]
    );
    assert!(p1.has_more);
    q.cursor = Some((3, "r3".into()));
    let p2 = s.list_usage(&q).await.unwrap();
    assert_eq!(p2.records[0].created_at, 2);
}

async fn leases_never_exceed_the_balance_and_settle_into_the_ledger(s: &dyn Store) {
    let a = s
        .create_account(NewAccount {
            name: "a".into(),
            credits_nano: 100,
            ..NewAccount::default()
        })
        .await
        .unwrap();
    assert_eq!(
        s.acquire_lease("i1", &a.id, 60, 10, 30_000).await.unwrap(),
        60
    );
    assert_eq!(
        s.acquire_lease("i2", &a.id, 60, 50, 30_000).await.unwrap(),
        0,
        "only 40 left"
    );
    assert_eq!(
        s.acquire_lease("i2", &a.id, 60, 10, 30_000).await.unwrap(),
        40
    );
    let charge = Charge {
        account_id: a.id.clone(),
        key_id: "k".into(),
        request_id: "r1".into(),
        amount_nano: 25,
        key_period_start: 0,
    };
    s.settle(&SettleBatch {
        id: "batch-0".into(),
        instance_id: "i1".into(),
        records: vec![],
        charges: vec![charge],
    })
    .await
    .unwrap();
    // The same batch again (a retry after a commit whose acknowledgement was lost):
    // written once.
    s.settle(&SettleBatch {
        id: "batch-0".into(),
        instance_id: "i1".into(),
        records: vec![],
        charges: vec![Charge {
            account_id: a.id.clone(),
            key_id: "k".into(),
            request_id: "r1".into(),
            amount_nano: 25,
            key_period_start: 0,
        }],
    })
    .await
    .unwrap();
    s.release_lease("i1", &a.id, 1000).await.unwrap();
    let acct = s.get_account(&a.id).await.unwrap();
    assert_eq!(acct.balance_nano, 75);
    assert_eq!(s.ledger_balance(&a.id).await.unwrap(), 75);
    assert_eq!(s.key_spend("k", 0).await.unwrap(), 25);
    // i1 gave back its 35 unused; i2 still holds 40.
    assert_eq!(
        s.acquire_lease("i3", &a.id, 100, 1, 30_000).await.unwrap(),
        35
    );
    assert_eq!(
        s.renew_leases("i2", -10_000).await.unwrap().accounts,
        vec![a.id.clone()]
    );
    // Expired, but within the grace: still held.
    assert_eq!(s.reclaim_expired_leases(60_000).await.unwrap(), 0);
    assert_eq!(s.reclaim_expired_leases(0).await.unwrap(), 1);
    // i2 was cut off: its renewal finds nothing, and its late charge is still
    // billed without shrinking i3's lease.
    assert!(s
        .renew_leases("i2", 30_000)
        .await
        .unwrap()
        .accounts
        .is_empty());
    s.settle(&SettleBatch {
        id: "batch-1".into(),
        instance_id: "i2".into(),
        records: vec![],
        charges: vec![Charge {
            account_id: a.id.clone(),
            key_id: "k".into(),
            request_id: "r2".into(),
            amount_nano: 5,
            key_period_start: 0,
        }],
    })
    .await
    .unwrap();
    assert_eq!(s.get_account(&a.id).await.unwrap().balance_nano, 70);
    // 70 left, 35 leased to i3: exactly 35 free (the late charge did not shrink
    // i3's lease in the books).
    assert_eq!(
        s.acquire_lease("i3", &a.id, 100, 1, 30_000).await.unwrap(),
        35
    );
}

/// A key's spend limit is leased like a balance: instances together never get more
/// than the limit less what was spent.
async fn key_leases_never_exceed_the_limit(s: &dyn Store) {
    let grant = |want, min| KeyGrant {
        key_id: "k1",
        period_start: 7,
        limit: 100,
        want,
        min,
        ttl_ms: 30_000,
    };
    assert_eq!(s.acquire_key_lease("i1", grant(60, 10)).await.unwrap(), 60);
    assert_eq!(s.acquire_key_lease("i2", grant(60, 50)).await.unwrap(), 0);
    assert_eq!(s.acquire_key_lease("i2", grant(60, 10)).await.unwrap(), 40);
    s.settle(&SettleBatch {
        id: "batch-2".into(),
        instance_id: "i1".into(),
        records: vec![],
        charges: vec![],
    })
    .await
    .unwrap();
    let a = s
        .create_account(NewAccount {
            name: "a".into(),
            credits_nano: 1000,
            ..NewAccount::default()
        })
        .await
        .unwrap();
    s.acquire_lease("i1", &a.id, 100, 1, 30_000).await.unwrap();
    s.settle(&SettleBatch {
        id: "batch-3".into(),
        instance_id: "i1".into(),
        records: vec![],
        charges: vec![Charge {
            account_id: a.id.clone(),
            key_id: "k1".into(),
            request_id: "r".into(),
            amount_nano: 25,
            key_period_start: 7,
        }],
    })
    .await
    .unwrap();
    assert_eq!(s.key_spend("k1", 7).await.unwrap(), 25);
    s.release_key_lease("i1", "k1", 7, 1000).await.unwrap();
    // 25 spent, i2 holds 40: 35 free.
    assert_eq!(s.acquire_key_lease("i3", grant(100, 1)).await.unwrap(), 35);
    let renewed = s.renew_leases("i2", -10_000).await.unwrap();
    assert_eq!(renewed.keys, vec![("k1".to_owned(), 7)]);
    assert!(s.reclaim_expired_leases(0).await.unwrap() >= 1);
    assert_eq!(s.acquire_key_lease("i3", grant(100, 1)).await.unwrap(), 40);
    // Another period is a fresh allowance.
    let next = KeyGrant {
        period_start: 8,
        ..grant(100, 1)
    };
    assert_eq!(s.acquire_key_lease("i1", next).await.unwrap(), 100);
}

#[tokio::test]
async fn sqlite_key_leases_never_exceed_the_limit() {
    on_sqlite(key_leases_never_exceed_the_limit).await;
}

#[tokio::test]
async fn postgres_key_leases_never_exceed_the_limit() {
    on_postgres(key_leases_never_exceed_the_limit).await;
}

#[tokio::test]
async fn sqlite_accounts_keys_and_versions() {
    on_sqlite(accounts_keys_and_versions).await;
}

#[tokio::test]
async fn postgres_accounts_keys_and_versions() {
    on_postgres(accounts_keys_and_versions).await;
}

#[tokio::test]
async fn sqlite_usage_pages_newest_first() {
    on_sqlite(usage_pages_newest_first).await;
}

#[tokio::test]
async fn postgres_usage_pages_newest_first() {
    on_postgres(usage_pages_newest_first).await;
}

#[tokio::test]
async fn sqlite_leases_never_exceed_the_balance_and_settle_into_the_ledger() {
    on_sqlite(leases_never_exceed_the_balance_and_settle_into_the_ledger).await;
}

#[tokio::test]
async fn postgres_leases_never_exceed_the_balance_and_settle_into_the_ledger() {
    on_postgres(leases_never_exceed_the_balance_and_settle_into_the_ledger).await;
}

async fn concurrent_leases_never_exceed_the_balance(s: &'static dyn Store) {
    let a = s
        .create_account(NewAccount {
            name: "race".into(),
            credits_nano: 100,
            ..NewAccount::default()
        })
        .await
        .unwrap();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..40 {
        let id = a.id.clone();
        set.spawn(async move {
            s.acquire_lease(&format!("i{i}"), &id, 10, 10, 30_000)
                .await
                .unwrap()
        });
    }
    let mut granted = 0;
    while let Some(g) = set.join_next().await {
        granted += g.unwrap();
    }
    assert_eq!(
        granted, 100,
        "40 instances asking 10 each share exactly the balance"
    );
}

#[tokio::test]
async fn sqlite_concurrent_leases_never_exceed_the_balance() {
    on_sqlite(concurrent_leases_never_exceed_the_balance).await;
}

#[tokio::test]
async fn postgres_concurrent_leases_never_exceed_the_balance() {
    on_postgres(concurrent_leases_never_exceed_the_balance).await;
}

async fn files_belong_to_one_account(s: &'static dyn Store) {
    let a = s
        .create_account(NewAccount {
            name: "a".into(),
            ..NewAccount::default()
        })
        .await
        .unwrap();
    let b = s
        .create_account(NewAccount {
            name: "b".into(),
            ..NewAccount::default()
        })
        .await
        .unwrap();
    let f = FileMeta {
        id: "file-1".into(),
        account_id: a.id.clone(),
        filename: "cat.png".into(),
        purpose: "vision".into(),
        bytes: 3,
        created_at: 1,
    };
    s.insert_file(&f).await.unwrap();
    assert_eq!(s.get_file(&a.id, "file-1").await.unwrap(), f);
    assert!(matches!(
        s.get_file(&b.id, "file-1").await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(s.list_files(&a.id).await.unwrap().len(), 1);
    assert!(s.list_files(&b.id).await.unwrap().is_empty());
    assert!(matches!(
        s.delete_file(&b.id, "file-1").await,
        Err(StoreError::NotFound)
    ));
    s.delete_file(&a.id, "file-1").await.unwrap();
    assert!(matches!(
        s.get_file(&a.id, "file-1").await,
        Err(StoreError::NotFound)
    ));
}

#[tokio::test]
async fn sqlite_files_belong_to_one_account() {
    on_sqlite(files_belong_to_one_account).await;
}

#[tokio::test]
async fn postgres_files_belong_to_one_account() {
    on_postgres(files_belong_to_one_account).await;
}

async fn file_usage_counts_one_accounts_files(s: &'static dyn Store) {
    let new = |name: &str| NewAccount {
        name: name.into(),
        ..NewAccount::default()
    };
    let a = s.create_account(new("a")).await.unwrap();
    let b = s.create_account(new("b")).await.unwrap();
    assert_eq!(s.file_usage(&a.id).await.unwrap(), FileUsage::default());
    for (id, account, bytes) in [
        ("file-u1", &a.id, 3_000_000_000_i64),
        ("file-u2", &a.id, 5),
        ("file-u3", &b.id, 7),
    ] {
        let f = FileMeta {
            id: id.into(),
            account_id: account.clone(),
            filename: "x.bin".into(),
            purpose: "user_data".into(),
            bytes,
            created_at: 1,
        };
        s.insert_file(&f).await.unwrap();
    }
    // Past 2^31 bytes: the sum must not truncate.
    let want = FileUsage {
        files: 2,
        bytes: 3_000_000_005,
    };
    assert_eq!(s.file_usage(&a.id).await.unwrap(), want);
    s.delete_file(&a.id, "file-u1").await.unwrap();
    let want = FileUsage { files: 1, bytes: 5 };
    assert_eq!(s.file_usage(&a.id).await.unwrap(), want);
    let want = FileUsage { files: 1, bytes: 7 };
    assert_eq!(s.file_usage(&b.id).await.unwrap(), want);
}

#[tokio::test]
async fn sqlite_file_usage_counts_one_accounts_files() {
    on_sqlite(file_usage_counts_one_accounts_files).await;
}

#[tokio::test]
async fn postgres_file_usage_counts_one_accounts_files() {
    on_postgres(file_usage_counts_one_accounts_files).await;
}

async fn keys_are_found_by_hash_with_their_account(s: &'static dyn Store) {
    let a = s
        .create_account(NewAccount {
            name: "finder".into(),
            credits_nano: 7,
            ..NewAccount::default()
        })
        .await
        .unwrap();
    let k = s.create_key(&a.id, NewKey::default()).await.unwrap();
    let (key, account) = s
        .find_key_by_hash(&crate::hash_key(&k.plaintext))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(key.id, k.key.id);
    assert_eq!((account.id, account.balance_nano), (a.id, 7));
    assert!(key.revoked_at.is_none());
    // Revoked keys are still found, so that the caller answers "revoked".
    s.revoke_key(&k.key.id).await.unwrap();
    let (key, _) = s.find_key_by_hash(&k.key.key_hash).await.unwrap().unwrap();
    assert!(key.revoked_at.is_some());
    let unknown = crate::hash_key("mg-never-issued");
    assert!(s.find_key_by_hash(&unknown).await.unwrap().is_none());
}

#[tokio::test]
async fn sqlite_keys_are_found_by_hash_with_their_account() {
    on_sqlite(keys_are_found_by_hash_with_their_account).await;
}

#[tokio::test]
async fn postgres_keys_are_found_by_hash_with_their_account() {
    on_postgres(keys_are_found_by_hash_with_their_account).await;
}
