//! `modelgate admin …`: the admin API's operations on the configured database, with
//! the same validation and JSON as the HTTP admin API. Running gateways pick the
//! changes up within 2 s.

use super::config::{load, open_store};
use clap::Subcommand;
use modelgate_core::model_id::quoted;
use modelgate_core::money::NanoUsd;
use modelgate_server::routes::account::{page_json, usage_query};
use modelgate_server::routes::admin::{
    account_json, created_key_json, key_json, store_error, CreateAccount, CreateKey,
};
use modelgate_store::{LimitsRow, StoreError};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Accounts: create or show.
    Accounts {
        #[command(subcommand)]
        command: AccountsCommand,
    },
    /// Keys: create or revoke.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Add credits (negative to deduct) to an account.
    Credits {
        account_id: String,
        amount_usd: f64,
        #[arg(long)]
        note: Option<String>,
    },
    /// Usage records, newest first.
    Usage {
        #[arg(long)]
        account_id: Option<String>,
        #[arg(long)]
        key_id: Option<String>,
        #[arg(long)]
        model: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
}

#[derive(Subcommand)]
pub enum AccountsCommand {
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        credits_usd: Option<f64>,
        /// Comma-separated glob patterns, e.g. 'openai/*,demo/*'.
        #[arg(long, value_delimiter = ',')]
        allowed_models: Option<Vec<String>>,
        #[arg(long)]
        rpm: Option<u64>,
        #[arg(long)]
        tpm: Option<u64>,
        #[arg(long)]
        max_concurrent: Option<u64>,
    },
    Get {
        id: String,
    },
}

#[derive(Subcommand)]
pub enum KeysCommand {
    Create {
        account_id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, value_delimiter = ',')]
        allowed_models: Option<Vec<String>>,
        #[arg(long)]
        max_spend_usd: Option<f64>,
        #[arg(long)]
        spend_period: Option<String>,
        /// RFC 3339, e.g. 2027-01-01T00:00:00Z.
        #[arg(long)]
        expires_at: Option<String>,
    },
    Revoke {
        key_id: String,
    },
}

fn print(v: serde_json::Value) {
    println!(
        "{}",
        String::from_utf8(modelgate_core::money::to_json_vec_pretty(&v).unwrap_or_default())
            .unwrap_or_default()
    );
}

/// The admin API's message for a store error about `what` (`Account "x" was not
/// found. Check the ID.`); database errors keep their cause, the operator is local.
fn store_msg(what: &str) -> impl Fn(StoreError) -> String + '_ {
    move |e| match e {
        StoreError::Database(e) => format!("database error: {e}"),
        other => store_error(other, what).message(),
    }
}

fn account(id: &str) -> String {
    format!("Account \"{}\"", quoted(id))
}

pub async fn run(config: Option<PathBuf>, command: AdminCommand) -> Result<(), String> {
    let loaded = load(config, false)?;
    let store = open_store(&loaded.file).await?;
    let msg = |e: modelgate_core::GatewayError| e.message();
    match command {
        AdminCommand::Accounts {
            command:
                AccountsCommand::Create {
                    name,
                    credits_usd,
                    allowed_models,
                    rpm,
                    tpm,
                    max_concurrent,
                },
        } => {
            let new = CreateAccount {
                name,
                credits_usd,
                allowed_models,
                limits: Some(LimitsRow {
                    rpm,
                    tpm,
                    max_concurrent,
                }),
            }
            .into_new()
            .map_err(msg)?;
            print(account_json(
                &store
                    .create_account(new)
                    .await
                    .map_err(store_msg("The account"))?,
            ));
        }
        AdminCommand::Accounts {
            command: AccountsCommand::Get { id },
        } => {
            let account = store
                .get_account(&id)
                .await
                .map_err(store_msg(&account(&id)))?;
            let mut v = account_json(&account);
            if let Some(obj) = v.as_object_mut() {
                let keys = store
                    .list_keys(&id)
                    .await
                    .map_err(store_msg("The account's keys"))?;
                obj.insert("keys".into(), keys.iter().map(key_json).collect());
            }
            print(v);
        }
        AdminCommand::Keys {
            command:
                KeysCommand::Create {
                    account_id,
                    name,
                    allowed_models,
                    max_spend_usd,
                    spend_period,
                    expires_at,
                },
        } => {
            let new = CreateKey {
                name,
                allowed_models,
                limits: None,
                max_spend_usd,
                spend_period,
                expires_at,
            }
            .into_new()
            .map_err(msg)?;
            print(created_key_json(
                &store
                    .create_key(&account_id, new)
                    .await
                    .map_err(store_msg(&account(&account_id)))?,
            ));
        }
        AdminCommand::Keys {
            command: KeysCommand::Revoke { key_id },
        } => {
            store
                .revoke_key(&key_id)
                .await
                .map_err(store_msg(&format!("Key \"{}\"", quoted(&key_id))))?;
            print(serde_json::json!({"id": key_id, "revoked": true}));
        }
        AdminCommand::Credits {
            account_id,
            amount_usd,
            note,
        } => {
            let amount =
                NanoUsd::from_usd(amount_usd).ok_or("amount_usd must be a finite USD amount")?;
            let balance = store
                .add_credits(&account_id, amount.0, note)
                .await
                .map_err(store_msg(&account(&account_id)))?;
            print(
                serde_json::json!({"account_id": account_id, "balance_usd": NanoUsd(balance).to_json()}),
            );
        }
        AdminCommand::Usage {
            account_id,
            key_id,
            model,
            limit,
        } => {
            // The API's own parsing, so the CLI refuses what GET /admin/usage refuses.
            let mut q = usage_query(Some(&format!("limit={limit}")), true).map_err(msg)?;
            q.account_id = account_id;
            q.key_id = key_id;
            q.model = model;
            print(page_json(
                &store
                    .list_usage(&q)
                    .await
                    .map_err(store_msg("Usage records"))?,
            ));
        }
    }
    Ok(())
}
