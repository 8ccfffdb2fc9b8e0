//! /v1/files (DESIGN §1): multipart upload, list, get, content, delete, in OpenAI's
//! file object shape. Files belong to one account and are 404 `not_found` to others;
//! uploads over `[files] max_bytes` are 413. Content lives under `[storage] files_dir`.

use super::admin::store_error;
use crate::auth::Authed;
use crate::error_response::ApiError;
use crate::extract::{refuse_declared_oversize, Path};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::{header, HeaderMap, StatusCode};
use modelgate_core::GatewayError;
use modelgate_store::{random_id, FileMeta};
use serde_json::{json, Value};
use std::path::PathBuf;

pub const PURPOSES: [&str; 6] = [
    "user_data",
    "vision",
    "assistants",
    "batch",
    "user_upload",
    "vision_reference",
];
/// Room for the multipart framing and the small fields around the file.
const FRAMING_ALLOWANCE: u64 = 64 * 1024;

fn file_json(f: &FileMeta) -> Value {
    json!({
        "id": f.id,
        "object": "file",
        "bytes": f.bytes,
        "created_at": f.created_at / 1000,
        "filename": f.filename,
        "purpose": f.purpose,
        "status": "processed",
        "status_details": null,
    })
}

fn path_of(state: &AppState, id: &str) -> PathBuf {
    PathBuf::from(&state.config.storage.files_dir).join(id)
}

fn not_found(id: &str) -> GatewayError {
    GatewayError::NotFound {
        what: format!("File \"{}\"", modelgate_core::model_id::quoted(id)),
    }
}

/// A well-formed file id; anything else cannot name a file (and must not reach a path).
fn valid_id(id: &str) -> bool {
    id.starts_with("file-")
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

struct Upload {
    filename: String,
    purpose: String,
    content: Vec<u8>,
}

async fn read_upload(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Upload, GatewayError> {
    let max = state.config.files.max_bytes;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let boundary =
        multer::parse_boundary(content_type).map_err(|_| GatewayError::UnsupportedContentType {
            got: content_type.chars().take(100).collect(),
        })?;
    let constraints = multer::Constraints::new().size_limit(
        multer::SizeLimit::new()
            .whole_stream(max + FRAMING_ALLOWANCE)
            .per_field(max),
    );
    let too_large = || GatewayError::BodyTooLarge {
        limit_bytes: usize::try_from(max).unwrap_or(usize::MAX),
    };
    // A declared size over the limit is refused before any of the body is read.
    let body = refuse_declared_oversize(headers, body, max.saturating_add(FRAMING_ALLOWANCE))
        .map_err(|_| too_large())?;
    let mut form =
        multer::Multipart::with_constraints(body.into_data_stream(), boundary, constraints);
    let malformed = |e: multer::Error| {
        match e {
        multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. } => too_large(),
        other => GatewayError::invalid(format!("The multipart body could not be read: {other}. Send multipart/form-data with 'file' and 'purpose'."), None),
    }
    };
    let (mut file, mut purpose) = (None, None);
    while let Some(field) = form.next_field().await.map_err(malformed)? {
        match field.name() {
            Some("file") => {
                let filename = field
                    .file_name()
                    .unwrap_or("upload")
                    .chars()
                    .take(255)
                    .collect::<String>();
                let content = field.bytes().await.map_err(malformed)?;
                file = Some((filename, content.to_vec()));
            }
            Some("purpose") => purpose = Some(field.text().await.map_err(malformed)?),
            _ => {}
        }
    }
    let (filename, content) = file.ok_or_else(|| {
        GatewayError::invalid(
            "The upload has no 'file' field. Send the file as a multipart field named 'file'.",
            Some("file"),
        )
    })?;
    let purpose = purpose.ok_or_else(|| {
        GatewayError::invalid("The upload has no 'purpose' field.", Some("purpose"))
    })?;
    if !PURPOSES.contains(&purpose.as_str()) {
        return Err(GatewayError::invalid(
            format!("'purpose' must be one of: {}.", PURPOSES.join(", ")),
            Some("purpose"),
        ));
    }
    Ok(Upload {
        filename,
        purpose,
        content,
    })
}

pub async fn upload(
    State(state): State<AppState>,
    authed: Authed,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let up = read_upload(&state, &headers, body).await?;
    let meta = FileMeta {
        id: random_id("file-"),
        account_id: authed.account.id.clone(),
        filename: up.filename,
        purpose: up.purpose,
        bytes: up.content.len() as i64,
        created_at: modelgate_core::time_fmt::now_unix_ms(),
    };
    let dir = PathBuf::from(&state.config.storage.files_dir);
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(GatewayError::internal)?;
    tokio::fs::write(path_of(&state, &meta.id), &up.content)
        .await
        .map_err(GatewayError::internal)?;
    state
        .store
        .insert_file(&meta)
        .await
        .map_err(|e| store_error(e, "The file"))?;
    Ok((StatusCode::OK, Json(file_json(&meta))).into_response())
}

pub async fn list(State(state): State<AppState>, authed: Authed) -> Result<Response, ApiError> {
    let files = state
        .store
        .list_files(&authed.account.id)
        .await
        .map_err(|e| store_error(e, "Files"))?;
    Ok(
        Json(json!({"object": "list", "data": files.iter().map(file_json).collect::<Vec<_>>()}))
            .into_response(),
    )
}

async fn owned(state: &AppState, authed: &Authed, id: &str) -> Result<FileMeta, GatewayError> {
    if !valid_id(id) {
        return Err(not_found(id));
    }
    state
        .store
        .get_file(&authed.account.id, id)
        .await
        .map_err(|_| not_found(id))
}

pub async fn get(
    State(state): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(file_json(&owned(&state, &authed, &id).await?)).into_response())
}

pub async fn content(
    State(state): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let meta = owned(&state, &authed, &id).await?;
    let bytes = tokio::fs::read(path_of(&state, &meta.id))
        .await
        .map_err(|_| not_found(&id))?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

pub async fn delete(
    State(state): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let meta = owned(&state, &authed, &id).await?;
    state
        .store
        .delete_file(&authed.account.id, &meta.id)
        .await
        .map_err(|_| not_found(&id))?;
    let _ = tokio::fs::remove_file(path_of(&state, &meta.id)).await;
    Ok(Json(json!({"id": meta.id, "object": "file", "deleted": true})).into_response())
}

/// Whether the account owns the file: image references check this (404 otherwise).
pub async fn owns(state: &AppState, account_id: &str, id: &str) -> bool {
    valid_id(id) && state.store.get_file(account_id, id).await.is_ok()
}
