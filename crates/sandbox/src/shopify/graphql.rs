//! `POST /admin/api/2025-01/graphql.json`: access-token check, then parse, analyse,
//! charge the cost bucket, execute, refund what was not spent, answer with
//! `extensions.cost`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sm_connectors::shopify::oauth::is_shop_domain;

use super::analyse::analyse;
use super::cost::{self, Status, MAXIMUM_AVAILABLE, RESTORE_RATE};
use super::execute::execute;
use super::query::{self, GqlError};
use super::resolve::Ctx;
use super::state::with_state;
use super::{webhooks, API_VERSION};
use crate::faults::Vendor;
use crate::shops::Shop;
use crate::Sandbox;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraphqlRequest {
    query: String,
    #[serde(default)]
    variables: Option<Value>,
    #[serde(default)]
    operation_name: Option<String>,
}

pub async fn endpoint(
    State(sandbox): State<Sandbox>,
    Path((domain, version)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if version != API_VERSION {
        return (StatusCode::NOT_FOUND, Json(json!({"errors": "Not Found"}))).into_response();
    }
    let token = headers
        .get("X-Shopify-Access-Token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !is_shop_domain(&domain) || !sandbox.secret().shopify_token_valid(&domain, token) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({
                "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
            })),
        )
            .into_response();
    }
    let Ok(request) = serde_json::from_slice::<GraphqlRequest>(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"errors": {"query": "Required parameter missing or invalid"}})),
        )
            .into_response();
    };
    let image_base = sandbox.image_base(&headers);
    let shop = sandbox.shop(Vendor::Shopify, &domain);
    let mut ctx = Ctx {
        sandbox: &sandbox,
        shop: shop.clone(),
        domain: &domain,
        image_base,
        changed: Vec::new(),
    };
    Json(answer(&mut ctx, &shop, &request)).into_response()
}

fn answer(ctx: &mut Ctx<'_>, shop: &Shop, request: &GraphqlRequest) -> Value {
    let restore_rate = ctx.sandbox.rate(RESTORE_RATE);
    // What the bucket holds now, for answers that charge nothing.
    let peek = || with_state(shop, |s| cost::take(s, 0, restore_rate)).unwrap_or_else(|s| s);
    let variables = match &request.variables {
        Some(Value::Object(v)) => v.clone(),
        _ => Map::new(),
    };
    let doc = match query::parse(&request.query) {
        Ok(doc) => doc,
        Err(error) => return errors_only(&[error], 0, peek()),
    };
    let op = match query::operation(&doc, request.operation_name.as_deref(), &variables) {
        Ok(op) => op,
        Err(errors) => return errors_only(&errors, 0, peek()),
    };
    let requested = match analyse(&op) {
        Ok(cost) => cost,
        Err(errors) => return errors_only(&errors, 0, peek()),
    };
    if requested as f64 > MAXIMUM_AVAILABLE {
        return max_cost_exceeded(requested, peek());
    }
    let taken = with_state(shop, |s| {
        let taken = cost::take(s, requested, restore_rate);
        if taken.is_err() {
            s.throttled += 1;
        }
        taken
    });
    if let Err(status) = taken {
        return throttled_answer(requested, status);
    }
    let (data, errors, actual) = execute(ctx, &op);
    let status = with_state(shop, |s| {
        s.spent += actual;
        cost::refund(s, requested.saturating_sub(actual), restore_rate)
    });
    webhooks::deliver_product_updates(ctx);
    let mut answer = Map::new();
    if !errors.is_empty() {
        answer.insert("errors".into(), errors_json(&errors));
    }
    answer.insert("data".into(), data);
    answer.insert(
        "extensions".into(),
        json!({"cost": cost::extension(requested, Some(actual), status)}),
    );
    Value::Object(answer)
}

fn errors_json(errors: &[GqlError]) -> Value {
    Value::Array(errors.iter().map(GqlError::to_json).collect())
}

/// An answer refused before anything ran: no `data`, nothing charged.
fn errors_only(errors: &[GqlError], requested: u64, status: Status) -> Value {
    json!({
        "errors": errors_json(errors),
        "extensions": {"cost": cost::extension(requested, None, status)},
    })
}

fn max_cost_exceeded(requested: u64, status: Status) -> Value {
    let error = GqlError::new(
        format!(
            "Query cost is {requested}, which exceeds the single query max cost limit ({}).\n\nSee https://shopify.dev/concepts/about-apis/rate-limits for more information on how the\ncost of a query is calculated.\n\nTo query larger amounts of data with fewer limits, bulk operations should be used instead.\nSee https://shopify.dev/tutorials/perform-bulk-operations-with-admin-api for usage details.\n",
            MAXIMUM_AVAILABLE as u64
        ),
        None,
    )
    .extensions(json!({
        "code": "MAX_COST_EXCEEDED",
        "cost": requested,
        "maxCost": MAXIMUM_AVAILABLE as u64,
        "documentation": "https://shopify.dev/api/usage/rate-limits",
    }));
    errors_only(&[error], requested, status)
}

/// Shopify's answer when the bucket lacks the requested cost: HTTP 200, no `data`.
pub fn throttled_answer(requested: u64, status: Status) -> Value {
    let error = GqlError::new("Throttled", None).extensions(json!({
        "code": "THROTTLED",
        "documentation": "https://shopify.dev/api/usage/rate-limits",
    }));
    errors_only(&[error], requested, status)
}
