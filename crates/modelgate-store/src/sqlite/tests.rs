use super::*;

async fn store() -> SqliteStore {
    let s = SqliteStore::open("sqlite::memory:").await.unwrap();
    s.migrate().await.unwrap();
    s.migrate().await.unwrap();
    s
}

#[tokio::test]
async fn accounts_keys_and_versions() {
    let s = store().await;
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

#[tokio::test]
async fn usage_pages_newest_first() {
    let s = store().await;
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

#[tokio::test]
async fn leases_never_exceed_the_balance_and_settle_into_the_ledger() {
    let s = store().await;
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
        instance_id: "i1".into(),
        records: vec![],
        charges: vec![charge],
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
    s.renew_leases("i2", -1).await.unwrap();
    assert_eq!(s.reclaim_expired_leases().await.unwrap(), 1);
    assert_eq!(
        s.acquire_lease("i3", &a.id, 100, 1, 30_000).await.unwrap(),
        40
    );
}
