//! `modelgate serve`: load config and catalog, open and migrate the store, set up the
//! demo account when asked, bind, print `listening on ADDR`, serve until a signal,
//! then shut down in order (DESIGN §9), logging each step and what it flushed.

use super::config::{load, open_store};
use modelgate_core::secret::Secret;
use modelgate_server::{app::app, AppState, StateOptions};
use modelgate_store::{NewAccount, NewKey, Store};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const DEMO_ACCOUNT_SETTING: &str = "demo_account_id";
const DEMO_CREDITS_NANO: i64 = 10_000_000_000;

pub async fn serve(
    config: Option<PathBuf>,
    listen: Option<String>,
    demo: bool,
) -> Result<(), String> {
    if let Some(addr) = &listen {
        // The same rule as `[server] listen`, before anything starts.
        modelgate_core::config::check_listen(addr).map_err(|p| format!("--listen: {p}"))?;
    }
    let loaded = load(config, demo)?;
    let store = open_store(&loaded.file).await?;
    let token_env = loaded.file.admin.token_env.clone();
    let mut admin_token = std::env::var(&token_env)
        .ok()
        .filter(|t| !t.is_empty())
        .map(Secret::new);
    let mut notes: Vec<String> = Vec::new();
    let mut demo_key_id = None;
    if demo {
        if admin_token.is_none() {
            let token = modelgate_store::generate_key()
                .map_err(|e| e.to_string())?
                .plaintext
                .replacen("mg-", "mga-", 1);
            notes.push(format!("admin token: {token}"));
            admin_token = Some(Secret::new(token));
        }
        let (key_id, key) = demo_key(store.as_ref()).await?;
        demo_key_id = Some(key_id);
        notes.push(format!("demo api key: {key}"));
        notes.push(format!(
            "try: curl -s http://ADDR/v1/chat/completions -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' -d '{{\"model\":\"demo/echo\",\"messages\":[{{\"role\":\"user\",\"content\":\"hello there\"}}]}}'"
        ));
    }
    let listen = listen.unwrap_or_else(|| loaded.file.server.listen.clone());
    let state = AppState::start(StateOptions {
        config: loaded.file,
        catalog: loaded.catalog,
        store,
        admin_token,
        metrics: modelgate_server::metrics::install(),
    })
    .await?;
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on {addr}");
    for note in notes {
        let _ = writeln!(out, "{}", note.replace("ADDR", &addr.to_string()));
    }
    let _ = out.flush();
    drop(out);
    let signalled: Arc<Mutex<Option<Signalled>>> = Arc::default();
    let on_signal = {
        let (signalled, state) = (Arc::clone(&signalled), state.clone());
        async move {
            let signal = shutdown_signal().await;
            tracing::info!(
                signal,
                "shutdown: no new connections; finishing the requests in flight (up to 30 s)"
            );
            *signalled.lock().unwrap_or_else(|p| p.into_inner()) = Some(Signalled {
                at: Instant::now(),
                requests_finished: requests_finished(&state),
            });
        }
    };
    modelgate_server::serve(listener, app(state.clone()), on_signal)
        .await
        .map_err(|e| e.to_string())?;
    let signalled = signalled.lock().unwrap_or_else(|p| p.into_inner()).take();
    shut_down(&state, signalled, demo_key_id.as_deref()).await;
    Ok(())
}

/// When the signal came and how many requests had finished by then.
struct Signalled {
    at: Instant,
    requests_finished: u64,
}

/// DESIGN §9, after the connections closed: finish tracked work, write usage, return
/// leases, each step logged at info with what it did.
async fn shut_down(state: &AppState, signalled: Option<Signalled>, demo_key_id: Option<&str>) {
    // Billing and idempotent answers of clients that disconnected still finish.
    if tokio::time::timeout(Duration::from_secs(30), state.tasks.wait_idle())
        .await
        .is_err()
    {
        tracing::warn!("shutdown: background work still running after 30 s; going on");
    }
    if let Some(s) = signalled {
        tracing::info!(
            requests = requests_finished(state).saturating_sub(s.requests_finished),
            drain_ms = u64::try_from(s.at.elapsed().as_millis()).unwrap_or(u64::MAX),
            "shutdown: requests in flight drained"
        );
    }
    let unwritten = state.usage.backlog().unwritten();
    state.usage.flush().await;
    let left = state.usage.backlog().unwritten();
    tracing::info!(
        written = unwritten.saturating_sub(left),
        "shutdown: usage records and charges written"
    );
    if left > 0 {
        tracing::warn!(
            left,
            "shutdown: usage records could not be written (store unreachable)"
        );
    }
    // Charges are written: what is left of each lease goes back to its account now
    // rather than when the lease expires. The store says which leases this instance
    // holds (renewing them a moment before returning them changes nothing).
    let ttl = i64::try_from(state.config.storage.lease_ttl_ms).unwrap_or(i64::MAX);
    let held = state
        .store
        .renew_leases(state.ledger.instance_id(), ttl)
        .await;
    state.ledger.release_all().await;
    match held {
        Ok(h) => tracing::info!(
            accounts = h.accounts.len(),
            keys = h.keys.len(),
            "shutdown: unused balance and key-spend leases returned"
        ),
        Err(e) => {
            tracing::warn!(error = %e, "shutdown: leases returned; the store did not say which")
        }
    }
    // §8: the demo key lives as long as the run that printed it.
    if let Some(id) = demo_key_id {
        match state.store.revoke_key(id).await {
            Ok(()) => tracing::info!(key_id = id, "shutdown: this run's demo key revoked"),
            Err(e) => {
                tracing::warn!(key_id = id, error = %e, "shutdown: revoking the demo key failed")
            }
        }
    }
    tracing::info!("shutdown: complete");
}

/// Requests finished so far, from the Prometheus counter (0 without a recorder).
fn requests_finished(state: &AppState) -> u64 {
    let Some(handle) = &state.metrics else {
        return 0;
    };
    handle
        .render()
        .lines()
        .filter(|l| l.starts_with("modelgate_requests_total"))
        // Counters render as whole numbers: `name{labels} 3`.
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// Reuses the demo account across restarts (DESIGN §8) and issues a fresh key;
/// returns its id and plaintext.
async fn demo_key(store: &dyn Store) -> Result<(String, String), String> {
    let existing = match store
        .get_setting(DEMO_ACCOUNT_SETTING)
        .await
        .map_err(|e| e.to_string())?
    {
        Some(id) => store.get_account(&id).await.ok(),
        None => None,
    };
    let account = match existing {
        Some(a) => a,
        None => {
            let a = store
                .create_account(NewAccount {
                    name: "demo".into(),
                    credits_nano: DEMO_CREDITS_NANO,
                    ..NewAccount::default()
                })
                .await
                .map_err(|e| e.to_string())?;
            store
                .set_setting(DEMO_ACCOUNT_SETTING, &a.id)
                .await
                .map_err(|e| e.to_string())?;
            a
        }
    };
    let created = store
        .create_key(
            &account.id,
            NewKey {
                name: Some("demo".into()),
                ..NewKey::default()
            },
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok((created.key.id, created.plaintext))
}

/// Waits for Ctrl-C or SIGTERM; returns which.
async fn shutdown_signal() -> &'static str {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => "SIGINT",
        () = term => "SIGTERM",
    }
}
