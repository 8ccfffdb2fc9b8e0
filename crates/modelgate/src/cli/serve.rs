//! `modelgate serve`: load config and catalog, open and migrate the store, set up the
//! demo account when asked, bind, print `listening on ADDR`, serve until a signal.

use super::config::{load, open_store};
use modelgate_core::secret::Secret;
use modelgate_server::{app::app, AppState, StateOptions};
use modelgate_store::{NewAccount, NewKey, Store};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

const DEMO_ACCOUNT_SETTING: &str = "demo_account_id";
const DEMO_CREDITS_NANO: i64 = 10_000_000_000;

pub async fn serve(
    config: Option<PathBuf>,
    listen: Option<String>,
    demo: bool,
) -> Result<(), String> {
    let loaded = load(config, demo)?;
    let store = open_store(&loaded.file).await?;
    let token_env = loaded.file.admin.token_env.clone();
    let mut admin_token = std::env::var(&token_env)
        .ok()
        .filter(|t| !t.is_empty())
        .map(Secret::new);
    let mut notes: Vec<String> = Vec::new();
    if demo {
        if admin_token.is_none() {
            let token = modelgate_store::generate_key()
                .map_err(|e| e.to_string())?
                .plaintext
                .replacen("mg-", "mga-", 1);
            notes.push(format!("admin token: {token}"));
            admin_token = Some(Secret::new(token));
        }
        let key = demo_key(store.as_ref()).await?;
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
    modelgate_server::serve(listener, app(state.clone()), shutdown_signal())
        .await
        .map_err(|e| e.to_string())?;
    // Finish in-flight work (billing of disconnected streams) and write usage.
    let _ = tokio::time::timeout(Duration::from_secs(30), state.tasks.wait_idle()).await;
    state.usage.flush().await;
    // Charges are written: what is left of each lease goes back to its account now
    // rather than when the lease expires.
    state.ledger.release_all().await;
    Ok(())
}

/// Reuses the demo account across restarts (DESIGN §8) and issues a fresh key.
async fn demo_key(store: &dyn Store) -> Result<String, String> {
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
    Ok(created.plaintext)
}

async fn shutdown_signal() {
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
        () = ctrl_c => {}
        () = term => {}
    }
}
