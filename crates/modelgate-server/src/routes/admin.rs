//! The admin API (DESIGN §4), behind the admin token. The request types and their
//! validation are public so that `modelgate admin …` applies the same rules.

use super::account::{page_json, usage_query};
use crate::auth::Admin;
use crate::error_response::ApiError;
use crate::extract::read_json;
use crate::extract::Path;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::{HeaderMap, StatusCode};
use modelgate_core::model_id::quoted;
use modelgate_core::money::NanoUsd;
use modelgate_core::time_fmt::{parse_rfc3339_ms, rfc3339_from_ms};
use modelgate_core::GatewayError;
use modelgate_store::{
    Account, ApiKey, CreatedKey, LimitsRow, NewAccount, NewKey, SpendPeriod, StoreError,
};
use serde::Deserialize;
use serde_json::{json, Value};

const ADMIN_BODY_LIMIT: usize = 64 * 1024;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CreateAccount {
    pub name: String,
    pub credits_usd: Option<f64>,
    pub allowed_models: Option<Vec<String>>,
    pub limits: Option<LimitsRow>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    pub name: Option<String>,
    pub allowed_models: Option<Vec<String>>,
    pub limits: Option<LimitsRow>,
    pub max_spend_usd: Option<f64>,
    pub spend_period: Option<String>,
    pub expires_at: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddCredits {
    pub amount_usd: f64,
    pub note: Option<String>,
}

fn usd(value: f64, param: &str) -> Result<NanoUsd, GatewayError> {
    NanoUsd::from_usd(value).ok_or_else(|| {
        GatewayError::invalid(
            format!("'{param}' must be a finite USD amount."),
            Some(param),
        )
    })
}

impl CreateAccount {
    pub fn into_new(self) -> Result<NewAccount, GatewayError> {
        if self.name.trim().is_empty() {
            return Err(GatewayError::invalid(
                "'name' must not be empty.",
                Some("name"),
            ));
        }
        let credits = usd(self.credits_usd.unwrap_or(0.0), "credits_usd")?;
        if credits.0 < 0 {
            return Err(GatewayError::invalid(
                "'credits_usd' must not be negative.",
                Some("credits_usd"),
            ));
        }
        Ok(NewAccount {
            name: self.name,
            credits_nano: credits.0,
            allowed_models: self.allowed_models,
            limits: self.limits.unwrap_or_default(),
        })
    }
}

impl CreateKey {
    pub fn into_new(self) -> Result<NewKey, GatewayError> {
        let spend_period = match self.spend_period.as_deref() {
            None => SpendPeriod::Total,
            Some(p) => SpendPeriod::parse(p).ok_or_else(|| {
                GatewayError::invalid(
                    "'spend_period' must be total, day or month.",
                    Some("spend_period"),
                )
            })?,
        };
        let max_spend_nano = self
            .max_spend_usd
            .map(|v| usd(v, "max_spend_usd"))
            .transpose()?
            .map(|n| n.0);
        if max_spend_nano.is_some_and(|n| n < 0) {
            return Err(GatewayError::invalid(
                "'max_spend_usd' must not be negative.",
                Some("max_spend_usd"),
            ));
        }
        let expires_at = self
            .expires_at
            .as_deref()
            .map(|t| {
                parse_rfc3339_ms(t).ok_or_else(|| {
                    GatewayError::invalid(
                        "'expires_at' must be an RFC 3339 time such as 2027-01-01T00:00:00Z.",
                        Some("expires_at"),
                    )
                })
            })
            .transpose()?;
        Ok(NewKey {
            name: self.name,
            allowed_models: self.allowed_models,
            limits: self.limits.unwrap_or_default(),
            max_spend_nano,
            spend_period,
            expires_at,
        })
    }
}

pub fn account_json(a: &Account) -> Value {
    json!({
        "id": a.id,
        "name": a.name,
        "balance_usd": NanoUsd(a.balance_nano).to_json(),
        "allowed_models": a.allowed_models,
        "limits": a.limits,
        "created_at": rfc3339_from_ms(a.created_at),
    })
}

pub fn key_json(k: &ApiKey) -> Value {
    json!({
        "id": k.id,
        "account_id": k.account_id,
        "name": k.name,
        "prefix": k.prefix,
        "allowed_models": k.allowed_models,
        "limits": k.limits,
        "max_spend_usd": k.max_spend_nano.map(|n| NanoUsd(n).to_json()),
        "spend_period": k.spend_period.as_str(),
        "expires_at": k.expires_at.map(rfc3339_from_ms),
        "revoked_at": k.revoked_at.map(rfc3339_from_ms),
        "created_at": rfc3339_from_ms(k.created_at),
    })
}

pub fn created_key_json(c: &CreatedKey) -> Value {
    let mut v = key_json(&c.key);
    if let Some(obj) = v.as_object_mut() {
        obj.insert("key".into(), json!(c.plaintext));
    }
    v
}

pub fn store_error(e: StoreError, what: &str) -> GatewayError {
    match e {
        StoreError::NotFound => GatewayError::NotFound {
            what: what.to_owned(),
        },
        StoreError::Invalid(m) => GatewayError::invalid(m, None),
        StoreError::Database(e) => GatewayError::internal(e),
    }
}

pub async fn create_account(
    State(state): State<AppState>,
    _: Admin,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let req: CreateAccount =
        read_json(&headers, body, ADMIN_BODY_LIMIT, state.body_timeout()).await?;
    let account = state
        .store
        .create_account(req.into_new()?)
        .await
        .map_err(|e| store_error(e, "The account"))?;
    state.refresh_now().await;
    Ok(crate::json::json_response(
        StatusCode::CREATED,
        &account_json(&account),
    ))
}

pub async fn get_account(
    State(state): State<AppState>,
    _: Admin,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let account = state
        .store
        .get_account(&id)
        .await
        .map_err(|e| store_error(e, &format!("Account \"{}\"", quoted(&id))))?;
    let keys = state
        .store
        .list_keys(&id)
        .await
        .map_err(|e| store_error(e, "The account's keys"))?;
    let ledger = state
        .store
        .ledger_balance(&id)
        .await
        .map_err(|e| store_error(e, "The account's ledger"))?;
    let mut v = account_json(&account);
    if let Some(obj) = v.as_object_mut() {
        obj.insert("keys".into(), keys.iter().map(key_json).collect());
        // The balance rebuilt from the ledger: equal to balance_usd once charges are written.
        obj.insert("ledger_balance_usd".into(), NanoUsd(ledger).to_json());
    }
    Ok(crate::json::ok(&v))
}

pub async fn add_credits(
    State(state): State<AppState>,
    _: Admin,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let req: AddCredits = read_json(&headers, body, ADMIN_BODY_LIMIT, state.body_timeout()).await?;
    let amount = usd(req.amount_usd, "amount_usd")?;
    let balance = state
        .store
        .add_credits(&id, amount.0, req.note)
        .await
        .map_err(|e| match e {
            StoreError::Invalid(why) => GatewayError::invalid(
                format!("'amount_usd' cannot be applied: {why}."),
                Some("amount_usd"),
            ),
            e => store_error(e, &format!("Account \"{}\"", quoted(&id))),
        })?;
    state.refresh_now().await;
    Ok(crate::json::ok(
        &json!({"account_id": id, "balance_usd": NanoUsd(balance).to_json()}),
    ))
}

pub async fn create_key(
    State(state): State<AppState>,
    _: Admin,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let req: CreateKey = read_json(&headers, body, ADMIN_BODY_LIMIT, state.body_timeout()).await?;
    let created = state
        .store
        .create_key(&id, req.into_new()?)
        .await
        .map_err(|e| store_error(e, &format!("Account \"{}\"", quoted(&id))))?;
    state.refresh_now().await;
    Ok((StatusCode::CREATED, Json(created_key_json(&created))).into_response())
}

pub async fn revoke_key(
    State(state): State<AppState>,
    _: Admin,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    state
        .store
        .revoke_key(&id)
        .await
        .map_err(|e| store_error(e, &format!("Key \"{}\"", quoted(&id))))?;
    state.refresh_now().await;
    Ok(Json(json!({"id": id, "revoked": true})).into_response())
}

pub async fn usage(
    State(state): State<AppState>,
    _: Admin,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = usage_query(raw.as_deref(), true)?;
    let page = state
        .store
        .list_usage(&q)
        .await
        .map_err(GatewayError::internal)?;
    Ok(crate::json::ok(&page_json(&page)))
}
