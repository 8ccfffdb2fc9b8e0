//! GET /api/balance and GET /api/usage for the key's own account.

use crate::auth::Authed;
use crate::error_response::ApiError;
use crate::extract::parse_query;
use crate::state::AppState;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use modelgate_core::money::NanoUsd;
use modelgate_core::time_fmt::{parse_rfc3339_ms, rfc3339_from_ms};
use modelgate_core::GatewayError;
use modelgate_store::{UsagePage, UsageQuery, UsageRecord};
use serde::Deserialize;
use serde_json::{json, Value};

pub async fn balance(State(state): State<AppState>, authed: Authed) -> Result<Response, ApiError> {
    let account = &authed.account.id;
    let balance = state.ledger.balance(account).await?;
    let reserved = state.ledger.reserved(account);
    Ok(crate::json::ok(&json!({
        "account_id": account,
        "balance_usd": NanoUsd(balance).to_json(),
        "reserved_usd": NanoUsd(reserved).to_json(),
        "available_usd": NanoUsd(balance - reserved).to_json(),
    })))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct UsageParams {
    pub model: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
    pub account_id: Option<String>,
    pub key_id: Option<String>,
}

/// Parses the query of /api/usage and /admin/usage into a store query.
pub fn usage_query(raw: Option<&str>, admin: bool) -> Result<UsageQuery, GatewayError> {
    let p: UsageParams = parse_query(raw)?;
    if !admin && (p.account_id.is_some() || p.key_id.is_some()) {
        return Err(GatewayError::invalid(
            "account_id and key_id filters are for GET /admin/usage. Remove them.",
            Some(if p.account_id.is_some() {
                "account_id"
            } else {
                "key_id"
            }),
        ));
    }
    let time = |v: &Option<String>, name: &str| -> Result<Option<i64>, GatewayError> {
        v.as_deref()
            .map(|t| {
                parse_rfc3339_ms(t).ok_or_else(|| {
                    GatewayError::invalid(
                        format!("'{name}' must be an RFC 3339 time such as 2026-11-25T00:00:00Z."),
                        Some(name),
                    )
                })
            })
            .transpose()
    };
    let limit = match p.limit.as_deref() {
        None => 100,
        Some(t) => t
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| {
                GatewayError::invalid(
                    "'limit' must be a whole number from 1 to 1000.",
                    Some("limit"),
                )
            })?,
    };
    let cursor = p
        .cursor
        .as_deref()
        .map(|c| {
            c.split_once(':')
                .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id.to_owned())))
                .ok_or_else(|| GatewayError::invalid("'cursor' is not a cursor this API returned. Use next_cursor from the previous page.", Some("cursor")))
        })
        .transpose()?;
    Ok(UsageQuery {
        account_id: p.account_id,
        key_id: p.key_id,
        model: p.model,
        from_ms: time(&p.from, "from")?,
        to_ms: time(&p.to, "to")?,
        limit,
        cursor,
    })
}

pub fn record_json(r: &UsageRecord) -> Value {
    json!({
        "request_id": r.request_id,
        "account_id": r.account_id,
        "key_id": r.key_id,
        "model": r.model,
        "provider": r.provider,
        "prompt_tokens": r.prompt_tokens,
        "completion_tokens": r.completion_tokens,
        "images": r.images,
        "cost_usd": NanoUsd(r.cost_nano).to_json(),
        "status": r.status,
        "error_type": r.error_type,
        "latency_ms": r.latency_ms,
        "attempts": r.attempts,
        "created_at": rfc3339_from_ms(r.created_at),
    })
}

pub fn page_json(page: &UsagePage) -> Value {
    let next_cursor = if page.has_more {
        page.records
            .last()
            .map(|r| format!("{}:{}", r.created_at, r.request_id))
    } else {
        None
    };
    json!({
        "object": "list",
        "data": page.records.iter().map(record_json).collect::<Vec<_>>(),
        "has_more": page.has_more,
        "next_cursor": next_cursor,
    })
}

pub async fn usage(
    State(state): State<AppState>,
    authed: Authed,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let mut q = usage_query(raw.as_deref(), false)?;
    q.account_id = Some(authed.account.id.clone());
    let page = state
        .store
        .list_usage(&q)
        .await
        .map_err(GatewayError::internal)?;
    Ok(crate::json::ok(&page_json(&page)))
}
