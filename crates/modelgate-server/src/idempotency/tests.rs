//! Idempotency records in process: replay, conflicts, transient outcomes, budget.
use super::*;

fn headers(v: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(HEADER, HeaderValue::from_str(v).unwrap());
    h
}

#[test]
fn quoted_keys_are_the_same_key_and_lengths_are_checked() {
    assert_eq!(key_from(&headers("\"abc\"")).unwrap(), Some("abc".into()));
    assert_eq!(key_from(&headers("abc")).unwrap(), Some("abc".into()));
    assert!(key_from(&headers("\"\"")).is_err());
    assert!(key_from(&headers(&"k".repeat(256))).is_err());
    assert_eq!(key_from(&HeaderMap::new()).unwrap(), None);
}

#[tokio::test]
async fn run_once_replay_conflict_and_mismatch() {
    let idem = Arc::new(Idempotency::new(None, 1 << 30, Tasks::default()));
    let Begin::Run(ticket) = idem
        .begin_local("a", "k".into(), b"{}", Mode::Plain)
        .unwrap()
    else {
        panic!()
    };
    assert!(matches!(
        idem.begin_local("a", "k".into(), b"{}", Mode::Plain),
        Err(GatewayError::IdempotencyInFlight { .. })
    ));
    assert!(matches!(
        idem.begin_local("a", "k".into(), b"{1}", Mode::Plain),
        Err(GatewayError::IdempotencyMismatch)
    ));
    assert!(
        matches!(
            idem.begin_local("b", "k".into(), b"{}", Mode::Plain),
            Ok(Begin::Run(_))
        ),
        "scoped per account"
    );
    ticket.finish(Response::new(Body::from("answer"))).await;
    let Ok(Begin::Replay(r)) = idem.begin_local("a", "k".into(), b"{}", Mode::Plain) else {
        panic!()
    };
    assert_eq!(r.headers()["idempotent-replayed"], "true");
    assert!(matches!(
        idem.begin_local("a", "k".into(), b"{2}", Mode::Plain),
        Err(GatewayError::IdempotencyMismatch)
    ));
}

#[tokio::test]
async fn transient_outcomes_are_not_stored() {
    let idem = Arc::new(Idempotency::new(None, 1 << 30, Tasks::default()));
    let Ok(Begin::Run(ticket)) = idem.begin_local("a", "k".into(), b"{}", Mode::Plain) else {
        panic!()
    };
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = http::StatusCode::BAD_GATEWAY;
    ticket.finish(resp).await;
    assert!(matches!(
        idem.begin_local("a", "k".into(), b"{}", Mode::Plain),
        Ok(Begin::Run(_))
    ));
}

#[tokio::test]
async fn the_oldest_finished_records_are_evicted_over_the_budget() {
    // Room for about four 1 KiB answers.
    let idem = Arc::new(Idempotency::new(None, 4 * 1200, Tasks::default()));
    for i in 0..10 {
        let Ok(Begin::Run(t)) = idem.begin_local("a", format!("k{i}"), b"{}", Mode::Plain) else {
            panic!()
        };
        t.finish(Response::new(Body::from(vec![b'x'; 1024]))).await;
    }
    assert!(idem.budget.used() <= 4 * 1200, "{}", idem.budget.used());
    // The newest still replays; the oldest runs again.
    assert!(matches!(
        idem.begin_local("a", "k9".into(), b"{}", Mode::Plain),
        Ok(Begin::Replay(_))
    ));
    assert!(matches!(
        idem.begin_local("a", "k0".into(), b"{}", Mode::Plain),
        Ok(Begin::Run(_))
    ));
    // A running stream is never evicted, and its bytes count.
    let Ok(Begin::Run(t)) = idem.begin_local(
        "a",
        "s".into(),
        b"{}",
        Mode::Stream {
            last_event_id: None,
        },
    ) else {
        panic!()
    };
    let log = t.log().unwrap();
    let before = idem.budget.used();
    log.push_data(&[b'y'; 5000]);
    assert!(idem.budget.used() >= before + 5000);
    let Ok(Begin::Run(t2)) = idem.begin_local("a", "k10".into(), b"{}", Mode::Plain) else {
        panic!()
    };
    t2.finish(Response::new(Body::from("z"))).await;
    assert!(matches!(
        idem.begin_local(
            "a",
            "s".into(),
            b"{}",
            Mode::Stream {
                last_event_id: Some(0)
            }
        ),
        Ok(Begin::Follow(..))
    ));
    // Freed with the stream's record, counted once.
    let key = t.streamed();
    log.finish();
    let used = idem.budget.used();
    key.transient();
    assert!(idem.budget.used() + 5000 <= used);
}
