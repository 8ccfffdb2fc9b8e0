//! /v1/files (DESIGN §1): multipart upload, list, get, content, delete, in OpenAI's
//! file object shape. Files belong to one account and are 404 `not_found` to others;
//! uploads over `[files] max_bytes` are 413. Content lives under `[storage] files_dir`.
//!
//! What one account can make the gateway hold is bounded (issue 8): uploads are
//! streamed to disk (never held in memory whole) within `[server] body_timeout_ms`
//! (408, the partial file removed), rate-limited, and within the account's quota of
//! files and bytes (`quota.rs`).

mod quota;

use super::admin::store_error;
use crate::auth::Authed;
use crate::error_response::ApiError;
use crate::extract::{declared_length, discard, refuse_declared_oversize, within, Path};
use crate::state::AppState;
use crate::tasks::Tasks;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::{header, HeaderMap, StatusCode};
use modelgate_core::GatewayError;
use modelgate_store::{random_id, FileMeta};
use quota::{Bounds, Reservation};
use serde_json::{json, Value};
use std::path::PathBuf;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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
/// Less than the framing of the smallest valid upload (boundaries, the `file` and
/// `purpose` part headers): a body of N bytes holds at most N - this of file.
const MIN_FRAMING: u64 = 100;
/// Read size of a download (`content`).
const CONTENT_CHUNK: usize = 64 * 1024;
/// `purpose` is one short word.
const MAX_PURPOSE_BYTES: u64 = 256;

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
    bytes: u64,
}

fn malformed(e: multer::Error, max: u64) -> GatewayError {
    match e {
        multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. } => {
            GatewayError::BodyTooLarge {
                limit_bytes: usize::try_from(max).unwrap_or(usize::MAX),
            }
        }
        // multer's text quotes the client's field names, which can be as long as the
        // body: bounded like every other client string in a message.
        other => GatewayError::invalid(
            format!(
                "The multipart body could not be read: {}. Send multipart/form-data with 'file' and 'purpose'.",
                modelgate_core::model_id::quoted(&other.to_string())
            ),
            None,
        ),
    }
}

/// Reads the form, streaming the `file` field to `path` chunk by chunk, each chunk
/// covered by the reservation before it is written.
async fn read_upload(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    path: &std::path::Path,
    reservation: &mut Reservation,
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
            .per_field(max)
            .for_field("purpose", MAX_PURPOSE_BYTES),
    );
    // A declared size over the limit is refused before any of the body is read.
    let body = refuse_declared_oversize(headers, body, max.saturating_add(FRAMING_ALLOWANCE))
        .map_err(|_| GatewayError::BodyTooLarge {
            limit_bytes: usize::try_from(max).unwrap_or(usize::MAX),
        })?;
    let mut form =
        multer::Multipart::with_constraints(body.into_data_stream(), boundary, constraints);
    let (mut file, mut purpose) = (None, None);
    while let Some(mut field) = form.next_field().await.map_err(|e| malformed(e, max))? {
        match field.name() {
            Some("file") if file.is_some() => {
                return Err(GatewayError::invalid(
                    "The upload has more than one 'file' field. Upload one file per request.",
                    Some("file"),
                ))
            }
            Some("file") => {
                let filename = field
                    .file_name()
                    .unwrap_or("upload")
                    .chars()
                    .take(255)
                    .collect::<String>();
                let bytes = write_field(&mut field, path, reservation, max).await?;
                file = Some((filename, bytes));
            }
            Some("purpose") => purpose = Some(field.text().await.map_err(|e| malformed(e, max))?),
            _ => {}
        }
    }
    let (filename, bytes) = file.ok_or_else(|| {
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
        bytes,
    })
}

async fn write_field(
    field: &mut multer::Field<'_>,
    path: &std::path::Path,
    reservation: &mut Reservation,
    max: u64,
) -> Result<u64, GatewayError> {
    let mut out = tokio::fs::File::create(path)
        .await
        .map_err(GatewayError::internal)?;
    let mut written = 0u64;
    while let Some(chunk) = field.chunk().await.map_err(|e| malformed(e, max))? {
        written = written.saturating_add(chunk.len() as u64);
        reservation.cover(written)?;
        out.write_all(&chunk)
            .await
            .map_err(GatewayError::internal)?;
    }
    out.flush().await.map_err(GatewayError::internal)?;
    Ok(written)
}

/// An upload's file on disk until its row is stored: removed (off the request path,
/// in a tracked task) however the upload ends otherwise, a timeout or a client that
/// went away included.
struct Partial {
    path: Option<PathBuf>,
    tasks: Tasks,
}

impl Partial {
    fn keep(mut self) {
        self.path = None;
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            self.tasks.spawn(async move {
                let _ = tokio::fs::remove_file(path).await;
            });
        }
    }
}

/// 429 (uploads per minute) or 413 (the account's files or bytes) before any of the
/// body is read; the body then drains in the background so that a client still
/// sending reads the answer.
fn refuse(headers: &HeaderMap, body: Body, e: GatewayError) -> ApiError {
    discard(headers, body);
    ApiError(e)
}

pub async fn upload(
    State(state): State<AppState>,
    authed: Authed,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let cfg = &state.config.files;
    let account = &authed.account.id;
    if let Err(e) = quota::admit_upload(account, cfg.uploads_per_minute) {
        return Err(refuse(&headers, body, e));
    }
    // Reserved before a byte is written: what the body can hold at most, up to the
    // per-file limit (a chunked upload reserves as it goes).
    let expected =
        declared_length(&headers).map_or(0, |n| n.saturating_sub(MIN_FRAMING).min(cfg.max_bytes));
    let mut reservation =
        match quota::reserve(state.store.as_ref(), account, Bounds::of(cfg), expected).await {
            Ok(r) => r,
            Err(e) => return Err(refuse(&headers, body, e)),
        };
    let id = random_id("file-");
    tokio::fs::create_dir_all(&state.config.storage.files_dir)
        .await
        .map_err(GatewayError::internal)?;
    let path = path_of(&state, &id);
    let partial = Partial {
        path: Some(path.clone()),
        tasks: state.tasks.clone(),
    };
    // §5: slow clients get the same deadline as JSON bodies (extract.rs).
    let read = read_upload(&state, &headers, body, &path, &mut reservation);
    let up = within(state.body_timeout(), read).await??;
    let meta = FileMeta {
        id,
        account_id: account.clone(),
        filename: up.filename,
        purpose: up.purpose,
        bytes: i64::try_from(up.bytes).unwrap_or(i64::MAX),
        created_at: modelgate_core::time_fmt::now_unix_ms(),
    };
    state
        .store
        .insert_file(&meta)
        .await
        .map_err(|e| store_error(e, "The file"))?;
    partial.keep();
    reservation.commit(up.bytes);
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
    let file = tokio::fs::File::open(path_of(&state, &meta.id))
        .await
        .map_err(|_| not_found(&id))?;
    // Streamed in chunks: a download never holds the whole file in memory (issue 8).
    let chunks = futures_util::stream::try_unfold(file, |mut file| async move {
        let mut buf = bytes::BytesMut::with_capacity(CONTENT_CHUNK);
        match file.read_buf(&mut buf).await? {
            0 => Ok(None),
            _ => Ok::<_, std::io::Error>(Some((buf.freeze(), file))),
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::CONTENT_LENGTH, meta.bytes.to_string()),
        ],
        Body::from_stream(chunks),
    )
        .into_response())
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
    quota::deleted(&authed.account.id, u64::try_from(meta.bytes).unwrap_or(0));
    let _ = tokio::fs::remove_file(path_of(&state, &meta.id)).await;
    Ok(Json(json!({"id": meta.id, "object": "file", "deleted": true})).into_response())
}

/// Whether the account owns the file: image references check this (404 otherwise).
pub async fn owns(state: &AppState, account_id: &str, id: &str) -> bool {
    valid_id(id) && state.store.get_file(account_id, id).await.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_form_does_not_echo_a_huge_field_name() {
        let e = malformed(
            multer::Error::IncompleteFieldData {
                field_name: Some("n".repeat(100_000)),
            },
            10,
        );
        assert_eq!(e.status(), 400);
        assert!(e.message().len() < 400, "{}", e.message().len());
        assert!(e.message().contains("incomplete") || e.message().contains("field"));
    }
}
