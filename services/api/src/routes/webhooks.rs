//! Webhooks the channels send: checked, recorded once per connection, answered at once
//! (no channel calls here: a new event queues a sync job that the workers run).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use http::{HeaderMap, StatusCode};
use sha2::{Digest, Sha256};
use sm_connectors::shopify::oauth;
use sm_domain::Platform;
use sm_http::ApiError;
use uuid::Uuid;

use crate::db;
use crate::db::channel_events::Event;
use crate::error::Result;
use crate::state::AppState;
use crate::sync::enqueue::{self, NewJob};
use crate::sync::{Kind, Mode, Origin};

/// Largest webhook body; Shopify's order payloads stay far below.
pub const WEBHOOK_LIMIT_BYTES: usize = 1024 * 1024;

/// Receives a Shopify webhook.
///
/// No bearer: the body is signed with the app's secret. The signature decides whether it
/// comes from a real shop (`SHOPIFY_API_SECRET`, which alone enables this receiver) or a
/// sandbox shop (the sandbox's stand-in app). The event is recorded once for every
/// connection whose credentials check confirmed the shop (a connection never checked
/// successfully gets none; `GET /api/connections/{id}/events` lists them); a repeated
/// delivery (same `X-Shopify-Webhook-Id`), a replayed body (same topic and body under
/// another id) and a shop nobody connected are acknowledged without recording anything.
/// A new event queues an incremental sync of what it names, in the same transaction:
/// `products/*` and `inventory_levels/*` the products, `orders/*` the orders (merged into
/// a job already waiting; nothing while one runs; none for a paused or disconnected
/// connection). `app/uninstalled` instead marks the connections made through the app
/// install `disconnected` with `app_uninstalled` and fails their waiting job (a token
/// connection is not the app's); its body must name the shop of `X-Shopify-Shop-Domain`
/// (the signature covers the body only).
/// A signed delivery without `X-Shopify-Topic`, `X-Shopify-Shop-Domain` or
/// `X-Shopify-Webhook-Id` answers 400 `missing_header`.
#[utoipa::path(post, path = "/api/webhooks/shopify", tag = "shopify", security(()),
    params(
        ("X-Shopify-Hmac-Sha256" = String, Header, description = "Required: base64 HMAC-SHA256 of the raw body with the app's secret; missing or wrong answers 401 invalid_signature."),
        ("X-Shopify-Shop-Domain" = String, Header, description = "Required: the shop's myshopify.com domain; missing on a signed delivery answers 400 missing_header."),
        ("X-Shopify-Topic" = String, Header, description = "Required: e.g. orders/create, products/update, app/uninstalled; missing on a signed delivery answers 400 missing_header."),
        ("X-Shopify-Webhook-Id" = String, Header, description = "Required: the same for every delivery of one event; missing on a signed delivery answers 400 missing_header."),
    ),
    request_body(content = Object, content_type = "application/json", description = "The event, as Shopify sends it; at most 1 MiB."),
    responses(
        (status = 200, description = "Received (or already received, or for a shop no verified connection names)"),
        (status = 400, description = "missing_header (a signed delivery without X-Shopify-Topic, X-Shopify-Shop-Domain or X-Shopify-Webhook-Id, or with one empty or over 255 bytes), malformed_json, unreadable_body, or shop_mismatch (an app/uninstalled body naming another shop than X-Shopify-Shop-Domain)", body = sm_http::ErrorBody),
        (status = 401, description = "invalid_signature: X-Shopify-Hmac-Sha256 missing or not made with SHOPIFY_API_SECRET (or the sandbox's app secret); always so for real shops when SHOPIFY_API_SECRET is not set", body = sm_http::ErrorBody),
        (status = 413, description = "payload_too_large", body = sm_http::ErrorBody),
    ))]
pub async fn shopify(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode> {
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::from_status(StatusCode::PAYLOAD_TOO_LARGE),
        _ => ApiError::bad_request("unreadable_body", "The request body could not be read."),
    })?;
    let signature = header(&headers, "x-shopify-hmac-sha256").unwrap_or_default();
    let sandbox_app = state.connectors.sandbox().map(|s| s.shopify_app().1);
    let sandbox = if state
        .shopify_secret
        .as_ref()
        .is_some_and(|secret| oauth::verify_webhook(secret, &body, signature))
    {
        false
    } else if sandbox_app.is_some_and(|secret| oauth::verify_webhook(&secret, &body, signature)) {
        true
    } else {
        return Err(ApiError::unauthorized(
            "invalid_signature",
            "The webhook is not signed with this installation's Shopify app secret.",
        )
        .into());
    };
    let required = |name: &'static str| {
        header(&headers, name).ok_or_else(|| {
            ApiError::bad_request(
                "missing_header",
                format!("The webhook lacks a valid {name} header."),
            )
        })
    };
    let (shop, topic, event_id) = (
        required("x-shopify-shop-domain")?,
        required("x-shopify-topic")?,
        required("x-shopify-webhook-id")?,
    );
    let payload: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|_| ApiError::bad_request("malformed_json", "The webhook body is not JSON."))?;
    if topic == "app/uninstalled" && !names_shop(&payload, shop) {
        return Err(ApiError::bad_request(
            "shop_mismatch",
            "The app/uninstalled body does not name the shop of X-Shopify-Shop-Domain.",
        )
        .into());
    }
    let body_sha256 = hex::encode(
        Sha256::new()
            .chain_update(topic.as_bytes())
            .chain_update([0])
            .chain_update(&body)
            .finalize(),
    );
    let mut tx = state.db.begin().await?;
    let new = db::channel_events::record(
        &mut tx,
        &Event {
            platform: Platform::Shopify.as_str(),
            account_ref: shop,
            sandbox,
            topic,
            event_id,
            body_sha256: &body_sha256,
            payload: &payload,
        },
    )
    .await?;
    if topic == "app/uninstalled" {
        let ids: Vec<Uuid> = new.iter().map(|c| c.connection_id).collect();
        db::channel_events::mark_uninstalled(&mut tx, &ids).await?;
    } else if let Some(kind) = sync_kind(topic) {
        // Recorded and queued together: an event is never recorded without its sync.
        for target in new.iter().filter(|c| syncs_on_events(&c.status)) {
            enqueue::enqueue(
                &mut tx,
                &state.sync,
                &NewJob {
                    user_id: target.user_id,
                    connection_id: target.connection_id,
                    kind,
                    mode: Mode::Incremental,
                    origin: Origin::Webhook,
                },
            )
            .await?;
        }
    }
    tx.commit().await?;
    tracing::info!(
        shop,
        topic,
        sandbox,
        recorded = new.len(),
        "Shopify webhook received"
    );
    Ok(StatusCode::OK)
}

/// What a topic names: products (`products/*`, and `inventory_levels/*`: a stock level)
/// or orders (`orders/*`); `None` for topics that change nothing the sync reads.
fn sync_kind(topic: &str) -> Option<Kind> {
    match topic.split_once('/')?.0 {
        "products" | "inventory_levels" => Some(Kind::Products),
        "orders" => Some(Kind::Orders),
        _ => None,
    }
}

/// Events sync a connection unless its merchant paused it, the shop removed the app, or
/// it is in `error` (its credentials or scopes are refused: the job would fail at once;
/// the merchant's fix and sync reads what the events named).
fn syncs_on_events(status: &str) -> bool {
    !matches!(status, "paused" | "disconnected" | "error")
}

/// True when an `app/uninstalled` body (the shop) is about `shop`: its `myshopify_domain`,
/// or its `domain` when it has none. The headers are not signed, so a signed body from one
/// shop must not uninstall another.
fn names_shop(payload: &serde_json::Value, shop: &str) -> bool {
    payload
        .get("myshopify_domain")
        .or_else(|| payload.get("domain"))
        .and_then(serde_json::Value::as_str)
        .is_some_and(|named| named.eq_ignore_ascii_case(shop))
}

/// A header's value, if it is present, visible ASCII, not empty and at most 255 bytes.
fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= 255)
}
