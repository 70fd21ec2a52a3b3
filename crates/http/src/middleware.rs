//! The middleware stack every service wraps its router in.

use std::time::{Duration, Instant};

use axum::body::{Body, HttpBody};
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::{from_fn, Next};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use http::{header, HeaderName, HeaderValue, Method, StatusCode};
use http_body_util::BodyExt;
use sm_config::ServerArgs;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::map_response_body::MapResponseBodyLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tracing::Instrument;

use crate::client_ip::TrustedProxies;
use crate::ApiError;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Wraps `router` in, from the outside in: request id, request log, request id echo, CORS,
/// compression (gzip, brotli) of fused bodies, JSON error envelope, panic catcher, timeout, body limit, security headers.
pub fn stack(router: Router, server: &ServerArgs) -> Router {
    let router = router.route_layer(from_fn(record_route));
    let layers = ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(from_fn(log_request))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(cors(&server.cors_origin))
        .layer(CompressionLayer::new())
        .layer(MapResponseBodyLayer::new(fuse_streamed))
        .layer(from_fn(error_envelope))
        .layer(CatchPanicLayer::custom(on_panic))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(server.request_timeout_secs),
        ))
        .layer(DefaultBodyLimit::max(server.body_limit_bytes))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(Extension(TrustedProxies::new(
            server.trusted_proxies.clone(),
        )));
    router.layer(layers)
}

/// The compression layer polls a body once more after it has ended (tower-http#732). A body
/// streamed from a `Stream` (the CSV export) may panic on that ("`Unfold` must not be polled
/// after it returned `Poll::Ready(None)`") and the client gets a cut-off answer; fused, it
/// keeps answering "ended". Bodies of known length are buffers that already behave.
fn fuse_streamed(body: Body) -> Body {
    if body.size_hint().exact().is_some() {
        body
    } else {
        Body::new(body.fuse())
    }
}

fn cors(origins: &[String]) -> CorsLayer {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o.trim().trim_end_matches('/')).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_credentials(true)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, REQUEST_ID])
        .expose_headers([REQUEST_ID, header::RETRY_AFTER])
        .max_age(Duration::from_secs(3600))
}

/// One log line per request, inside a span that carries the request id to every log below it.
async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let path = request.uri().path().to_owned();
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        path = %path,
        route = tracing::field::Empty,
        request_id = request.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-"),
    );
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let _entered = span.enter();
    if path.starts_with("/health/") {
        tracing::debug!(status, latency_ms, "request");
    } else {
        tracing::info!(status, latency_ms, "request");
    }
    response
}

async fn record_route(request: Request, next: Next) -> Response {
    if let Some(route) = request.extensions().get::<MatchedPath>() {
        tracing::Span::current().record("route", route.as_str());
    }
    next.run(request).await
}

/// Gives every error answer the shared JSON body with the request id, including the bare
/// statuses that the router and the layers produce (404, 405, 408, 413, panics).
async fn error_envelope(request: Request, next: Next) -> Response {
    let request_id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let error = match response.extensions().get::<ApiError>() {
        Some(error) => error.clone(),
        None if is_json(&response) => return response,
        None => ApiError::from_status(status),
    };
    let (mut parts, _) = response.into_parts();
    let (new_parts, body) = error.render(request_id).into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.extend(new_parts.headers);
    Response::from_parts(parts, body)
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"))
}

fn on_panic(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    ApiError::internal(format_args!("handler panicked: {detail}")).into_response()
}
