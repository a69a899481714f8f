//! The HTTP layer: each handler parses, calls [`Intake`], and maps the result. No logic here.

use axum::{
    body::Body,
    extract::{ConnectInfo, Request, State},
    http::{header, HeaderMap, Method, StatusCode, Uri},
    response::IntoResponse,
    routing::{get, post},
    Json, Router,
};
use chrono::Utc;
use std::{net::SocketAddr, sync::Arc};
use sync_protocol::{api, limits};
use tower_http::{compression::CompressionLayer, trace::TraceLayer};

use crate::{
    error::IntakeError,
    service::{Centre, Intake},
};

pub fn router(centre: Arc<Centre>) -> Router {
    Router::new()
        .route(api::PATH_HEALTH, get(|| async { "ok" }))
        .route(api::PATH_ENROLL, post(enroll))
        .route(api::PATH_ASSIGNMENT, get(assignment))
        .route(api::PATH_CHAIN, get(chain))
        .route(
            &format!("{}/{{sha256}}", api::PATH_FORMS),
            get(form_definition),
        )
        .route(api::PATH_EARLIER, get(earlier_work))
        .route(api::PATH_BATCHES, post(batches))
        .method_not_allowed_fallback(|| async { IntakeError::MethodNotAllowed })
        // Unknown paths, and methods on the pages, are answered behind the pages' door (a
        // person gets a page, a device or program the JSON error): see `web::routes`.
        .merge(crate::web::routes(centre.clone()))
        .layer(axum::middleware::from_fn(zstd_device_answers))
        // Every answer is JSON (receipts, assignments, errors), repetitive enough that
        // compressing it pays on 2G. Requests are not touched: frames are already zstd.
        .layer(
            CompressionLayer::new()
                .zstd(true)
                .gzip(true)
                .no_br()
                .no_deflate(),
        )
        .layer(axum::middleware::from_fn(whole_device_answers))
        .layer(TraceLayer::new_for_http())
        .with_state(centre)
}

/// The device protocol's answers (`/v1/`) go out whole: a receipt compressed is a few hundred
/// bytes, and sent in chunks it carries `Transfer-Encoding: chunked` and the chunks' framing,
/// more than its `Content-Length` costs. They also go without `Vary`: it tells caches which
/// request headers chose the answer, and nothing caches these (`no-store`). On 2G each sync
/// is four or five such answers, and every byte is paid for.
async fn whole_device_answers(
    request: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if !api::is_protocol_path(request.uri().path()) {
        return next.run(request).await;
    }
    let (mut parts, body) = next.run(request).await.into_parts();
    let cacheable = parts
        .headers
        .get(header::CACHE_CONTROL)
        .is_some_and(|v| v != "no-store");
    if !cacheable {
        parts.headers.remove(header::VARY);
    }
    if http_body::Body::size_hint(&body).exact().is_some() {
        return axum::response::Response::from_parts(parts, body);
    }
    // The body was made whole in memory (JSON) before it was compressed, so holding its
    // compressed form adds no unbounded memory.
    match axum::body::to_bytes(body, usize::MAX).await {
        Ok(whole) => axum::response::Response::from_parts(parts, Body::from(whole)),
        Err(e) => answer_not_compressed(e),
    }
}

/// A device protocol answer smaller than this goes out as it is, as `CompressionLayer` leaves
/// it (its default predicate compresses above 32 bytes).
const SMALLEST_COMPRESSED: usize = 32;

/// The largest answer compressed by [`zstd_device_answers`]. Above about 2 KiB, zstd's
/// parameters for an input of known small size make a frame a few per cent larger than the
/// streaming encoder's (measured on receipt-like JSON: 1,323 against 1,286 bytes at 4 KiB),
/// and on 2G the bytes matter more than the CPU: an assignment is fetched rarely, a receipt for
/// every batch.
const LARGEST_COMPRESSED_HERE: usize = 2048;

/// Compresses a small device protocol answer (a receipt, a chain head, an error) with zstd
/// when the device prefers it, through one compression context per thread. `CompressionLayer`
/// would stream it through a fresh context whose tables, sized for an answer of unknown
/// length, are cleared for every receipt: a twentieth of the workers' CPU at full ingest. The
/// answer is whole JSON, so its length is known and the tables are sized to it. Whatever is
/// not compressed here (larger answers, no zstd in `Accept-Encoding`, or zstd below another
/// encoding's weight) is left to `CompressionLayer`, which never compresses an answer twice.
async fn zstd_device_answers(
    request: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if !api::is_protocol_path(request.uri().path()) || !zstd_preferred(request.headers()) {
        return next.run(request).await;
    }
    let (mut parts, body) = next.run(request).await.into_parts();
    if parts.headers.contains_key(header::CONTENT_ENCODING) {
        return axum::response::Response::from_parts(parts, body);
    }
    // Whole in memory already (JSON), as `whole_device_answers` relies on.
    let whole = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(whole) => whole,
        Err(e) => return answer_not_compressed(e),
    };
    if !(SMALLEST_COMPRESSED..=LARGEST_COMPRESSED_HERE).contains(&whole.len()) {
        return axum::response::Response::from_parts(parts, Body::from(whole));
    }
    match zstd_with_this_threads_context(&whole) {
        Ok(compressed) => {
            parts.headers.remove(header::CONTENT_LENGTH);
            parts.headers.insert(
                header::CONTENT_ENCODING,
                header::HeaderValue::from_static("zstd"),
            );
            // What a cache must know; `whole_device_answers` drops it where nothing caches.
            parts.headers.append(
                header::VARY,
                header::HeaderValue::from_name(header::ACCEPT_ENCODING),
            );
            axum::response::Response::from_parts(parts, Body::from(compressed))
        }
        Err(e) => answer_not_compressed(e),
    }
}

/// Whether `CompressionLayer` would choose zstd: offered at full weight (it breaks ties in
/// zstd's favour). An `Accept-Encoding` that weighs zstd lower is left to it.
fn zstd_preferred(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|offer| {
            let mut offer = offer.split(';').map(str::trim);
            offer
                .next()
                .is_some_and(|coding| coding.eq_ignore_ascii_case("zstd"))
                && offer.all(|param| {
                    param
                        .strip_prefix("q=")
                        .is_none_or(|weight| weight.parse::<f32>().is_ok_and(|q| q >= 1.0))
                })
        })
}

fn zstd_with_this_threads_context(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    thread_local! {
        static CONTEXT: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
            const { std::cell::RefCell::new(None) };
    }
    CONTEXT.with(|context| {
        let mut context = context.borrow_mut();
        let compressor = match context.as_mut() {
            Some(compressor) => compressor,
            None => context.insert(zstd::bulk::Compressor::new(
                zstd::DEFAULT_COMPRESSION_LEVEL,
            )?),
        };
        compressor.compress(bytes)
    })
}

fn answer_not_compressed(e: impl std::fmt::Display) -> axum::response::Response {
    IntakeError::Store(crate::store::StoreError::Corrupt(format!(
        "an answer could not be compressed: {e}"
    )))
    .into_response()
}

/// Runs blocking store work off the async executor.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, IntakeError> + Send + 'static,
) -> Result<T, IntakeError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(IntakeError::Store(crate::store::StoreError::Corrupt(
            format!("worker failed: {e}"),
        )))
    })
}

async fn read_body(body: Body, limit: usize) -> Result<axum::body::Bytes, IntakeError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let too_slow = std::error::Error::source(&e)
            .is_some_and(|s| s.to_string() == crate::serve::TooSlow.to_string());
        if too_slow {
            IntakeError::BodyTooSlow {
                retry_after_secs: 30,
            }
        } else {
            IntakeError::BodyTooLarge { limit }
        }
    })
}

async fn enroll(
    State(centre): State<Arc<Centre>>,
    request: Request,
) -> Result<impl IntoResponse, IntakeError> {
    let info = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .cloned();
    // Behind a named proxy, the device's own address (each device its own budget).
    let ip = centre.client_address(info.map(|ConnectInfo(a)| a.ip()), request.headers());
    let bytes = read_body(request.into_body(), 16 * 1024).await?;
    let request: api::EnrollRequest = serde_json::from_slice(&bytes)
        .map_err(|e| IntakeError::BadRequest(format!("enrollment request: {e}")))?;
    let response = blocking(move || centre.enroll(&request, ip)).await?;
    Ok((StatusCode::CREATED, Json(response)))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A device-signed request, handed to the intake of the device's campaign. A refused one is
/// audited (see [`Centre::audit_device_refusal`]).
async fn authenticated<T: Send + 'static>(
    centre: Arc<Centre>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    then: impl FnOnce(&Intake, &crate::store::DeviceRecord) -> Result<T, IntakeError> + Send + 'static,
) -> Result<T, IntakeError> {
    // Behind a named proxy, the device's own address.
    let socket = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| a.ip());
    let peer = centre.client_address(socket, &headers);
    blocking(move || {
        let (intake, device) = centre
            .authenticate(
                header(&headers, api::HEADER_DEVICE),
                header(&headers, api::HEADER_TIME),
                header(&headers, api::HEADER_SIGNATURE),
                header(&headers, api::HEADER_REQUEST_VERSION),
                method.as_str(),
                uri.path(),
            )
            .inspect_err(|e| centre.audit_device_refusal("device_refused", e, peer))?;
        then(&intake, &device)
    })
    .await
}

/// `If-None-Match` with the tag the device holds gives `304` and no body: on 2G an unchanged
/// assignment is not downloaded again.
async fn assignment(
    State(centre): State<Arc<Centre>>,
    method: Method,
    uri: Uri,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
) -> Result<axum::response::Response, IntakeError> {
    let held = header(&headers, "if-none-match").map(|v| v.trim_matches('"').to_string());
    let (doc, tag) = authenticated(centre, method, uri, headers, extensions, move |i, d| {
        i.assignment_unless(d, held.as_deref())
    })
    .await?;
    let etag = [(header::ETAG, format!("\"{tag}\""))];
    Ok(match doc {
        Some(doc) => (etag, Json(doc)).into_response(),
        None => (StatusCode::NOT_MODIFIED, etag).into_response(),
    })
}

/// A form definition by its hash, for an enrolled device. Content-addressed, so it never
/// changes: the device checks the hash against its signed assignment.
async fn form_definition(
    State(centre): State<Arc<Centre>>,
    axum::extract::Path(sha256): axum::extract::Path<String>,
    method: Method,
    uri: Uri,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
) -> Result<axum::response::Response, IntakeError> {
    let bytes = authenticated(centre, method, uri, headers, extensions, move |i, _| {
        i.form_definition(&sha256)
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], bytes).into_response())
}

/// What other devices did on this enumerator's households (a replacement tablet's history).
async fn earlier_work(
    State(centre): State<Arc<Centre>>,
    method: Method,
    uri: Uri,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
) -> Result<impl IntoResponse, IntakeError> {
    Ok(Json(
        authenticated(centre, method, uri, headers, extensions, |i, d| {
            i.earlier_work(d)
        })
        .await?,
    ))
}

async fn chain(
    State(centre): State<Arc<Centre>>,
    method: Method,
    uri: Uri,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
) -> Result<impl IntoResponse, IntakeError> {
    Ok(Json(
        authenticated(centre, method, uri, headers, extensions, |i, d| {
            i.chain_head(d)
        })
        .await?,
    ))
}

async fn batches(
    State(centre): State<Arc<Centre>>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    body: Body,
) -> Result<impl IntoResponse, IntakeError> {
    let socket = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| a.ip());
    let peer = centre.client_address(socket, &headers);
    let frame = read_body(body, limits::MAX_FRAME_BYTES).await?;
    let (receipt, new) = blocking(move || {
        centre
            .ingest(&frame, Utc::now())
            .inspect_err(|e| centre.audit_device_refusal("batch_refused", e, peer))
    })
    .await?;
    Ok((
        if new {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        Json(receipt),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepts(value: &str) -> bool {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_ENCODING, value.parse().unwrap());
        zstd_preferred(&headers)
    }

    #[test]
    fn zstd_is_taken_only_at_full_weight() {
        for offered in [
            "zstd",
            "ZSTD",
            "gzip, zstd",
            "gzip;q=0.5,zstd;q=1.0",
            "zstd ; q=1",
        ] {
            assert!(accepts(offered), "{offered}");
        }
        for not in [
            "gzip",
            "zstd;q=0",
            "zstd;q=0.9, gzip",
            "x-zstd",
            "zstd;q=x",
            "*",
        ] {
            assert!(!accepts(not), "{not}");
        }
        assert!(!zstd_preferred(&HeaderMap::new()));
    }
}
