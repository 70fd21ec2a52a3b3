//! Webhook subscriptions and their deliveries. A push that changes a product sends
//! `products/update` to every subscriber in the background, signed like Shopify signs it
//! (base64 HMAC-SHA256 of the body with the app's secret).
//!
//! Unlike Shopify, callback URLs may be plain `http` (tests and local installs listen on
//! loopback); the body is always JSON.

use std::sync::OnceLock;
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use serde_json::{json, Value as Json};
use sm_connectors::shopify::oauth::webhook_hmac;
use sm_connectors::{RetryPolicy, Transport};

use super::connection::paginate;
use super::execute::Out;
use super::mutations::user_error;
use super::products::handle;
use super::resolve::{
    connection_of, gid, gid_number, leaf, money, str_arg, time, unknown, Args, Ctx, Obj, Resolved,
};
use super::state::{with_state, Subscription};
use super::API_VERSION;
use crate::shops::Product;

/// The topics the stand-in accepts (a subset of `WebhookSubscriptionTopic`); only
/// `PRODUCTS_UPDATE` ever fires, as nothing else changes in a sandbox shop.
const TOPICS: &[&str] = &[
    "APP_UNINSTALLED",
    "INVENTORY_ITEMS_UPDATE",
    "INVENTORY_LEVELS_UPDATE",
    "ORDERS_CANCELLED",
    "ORDERS_CREATE",
    "ORDERS_FULFILLED",
    "ORDERS_PAID",
    "ORDERS_UPDATED",
    "PRODUCTS_CREATE",
    "PRODUCTS_DELETE",
    "PRODUCTS_UPDATE",
];

const PRODUCTS_UPDATE: &str = "PRODUCTS_UPDATE";

pub fn create(ctx: &mut Ctx<'_>, args: &Args) -> Resolved {
    let topic = str_arg(args, "topic");
    if !TOPICS.contains(&topic) {
        return Err(format!(
            "Argument 'topic' on Field 'webhookSubscriptionCreate' has an invalid value ({topic}). Expected type 'WebhookSubscriptionTopic!'."
        ));
    }
    let input = args
        .get("webhookSubscription")
        .cloned()
        .unwrap_or(Json::Null);
    let callback_url = input
        .get("callbackUrl")
        .and_then(Json::as_str)
        .unwrap_or_default();
    let format = input.get("format").and_then(Json::as_str).unwrap_or("JSON");
    let payload = |subscription: Out, errors: Vec<Obj>| {
        Ok(Out::Object(Obj::Bag {
            type_name: "WebhookSubscriptionCreatePayload",
            fields: vec![
                ("webhookSubscription", subscription),
                ("userErrors", Out::List(errors)),
            ],
        }))
    };
    let field = ["webhookSubscription", "callbackUrl"];
    let valid = url::Url::parse(callback_url)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
    if !valid {
        return payload(
            Out::Null,
            vec![user_error("UserError", &field, "Address is invalid", None)],
        );
    }
    let created = with_state(&ctx.shop, |state| {
        let taken = state
            .subscriptions
            .iter()
            .any(|s| s.topic == topic && s.callback_url == callback_url);
        if taken {
            return None;
        }
        state.last_subscription += 1;
        let subscription = Subscription {
            number: state.last_subscription,
            topic: topic.to_owned(),
            callback_url: callback_url.to_owned(),
            format: format.to_owned(),
            created_at: Utc::now(),
        };
        state.subscriptions.push(subscription.clone());
        Some(subscription)
    });
    match created {
        Some(s) => payload(
            Out::Object(Obj::WebhookSubscription(Box::new(s))),
            Vec::new(),
        ),
        None => payload(
            Out::Null,
            vec![user_error(
                "UserError",
                &field,
                "Address for this topic has already been taken",
                None,
            )],
        ),
    }
}

pub fn delete(ctx: &mut Ctx<'_>, args: &Args) -> Resolved {
    let id = str_arg(args, "id");
    let number = gid_number(id, "WebhookSubscription");
    let removed = with_state(&ctx.shop, |state| {
        let before = state.subscriptions.len();
        state.subscriptions.retain(|s| Some(s.number) != number);
        state.subscriptions.len() < before
    });
    let (deleted, errors) = if removed {
        (Out::Leaf(json!(id)), Vec::new())
    } else {
        (
            Out::Null,
            vec![user_error(
                "UserError",
                &["id"],
                "Webhook subscription does not exist",
                None,
            )],
        )
    };
    Ok(Out::Object(Obj::Bag {
        type_name: "WebhookSubscriptionDeletePayload",
        fields: vec![
            ("deletedWebhookSubscriptionId", deleted),
            ("userErrors", Out::List(errors)),
        ],
    }))
}

/// `webhookSubscriptions(first, after, callbackUrl, format, topics)`.
pub fn subscriptions(ctx: &mut Ctx<'_>, args: &Args) -> Resolved {
    let callback_url = args.get("callbackUrl").and_then(Json::as_str);
    let format = args.get("format").and_then(Json::as_str);
    let topics: Option<Vec<&str>> = args
        .get("topics")
        .and_then(Json::as_array)
        .map(|t| t.iter().filter_map(Json::as_str).collect());
    let all = with_state(&ctx.shop, |state| state.subscriptions.clone());
    let chosen: Vec<Subscription> = all
        .into_iter()
        .filter(|s| callback_url.is_none_or(|u| u == s.callback_url))
        .filter(|s| format.is_none_or(|f| f == s.format))
        .filter(|s| {
            topics
                .as_ref()
                .is_none_or(|t| t.contains(&s.topic.as_str()))
        })
        .collect();
    let keys = chosen
        .iter()
        .enumerate()
        .map(|(i, s)| (s.number as i64, i))
        .collect();
    let window = paginate(keys, args)?;
    Ok(connection_of(
        "WebhookSubscriptionConnection",
        "WebhookSubscriptionEdge",
        window,
        |i| Obj::WebhookSubscription(Box::new(chosen[i].clone())),
    ))
}

pub fn subscription_field(s: &Subscription, field: &str) -> Resolved {
    match field {
        "id" => leaf(gid("WebhookSubscription", s.number)),
        "legacyResourceId" => leaf(s.number.to_string()),
        "topic" => leaf(s.topic.as_str()),
        "format" => leaf(s.format.as_str()),
        "callbackUrl" => leaf(s.callback_url.as_str()),
        "endpoint" => Ok(Out::Object(Obj::Bag {
            type_name: "WebhookHttpEndpoint",
            fields: vec![("callbackUrl", Out::Leaf(json!(s.callback_url)))],
        })),
        "apiVersion" => Ok(Out::Object(Obj::Bag {
            type_name: "ApiVersion",
            fields: vec![
                ("handle", Out::Leaf(json!(API_VERSION))),
                ("displayName", Out::Leaf(json!(API_VERSION))),
                ("supported", Out::Leaf(json!(true))),
            ],
        })),
        "includeFields" | "metafieldNamespaces" => leaf(json!([])),
        "filter" => Ok(Out::Null),
        "createdAt" | "updatedAt" => Ok(Out::Leaf(time(s.created_at))),
        _ => unknown(field),
    }
}

/// The REST-style `products/update` body.
fn product_payload(p: &Product) -> Json {
    let n = p.seed.index + 1;
    let rest_time = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, false);
    json!({
        "id": n,
        "admin_graphql_api_id": gid("Product", n),
        "title": p.seed.title,
        "body_html": p.seed.description,
        "vendor": p.seed.brand,
        "product_type": p.seed.category,
        "handle": handle(p),
        "status": "active",
        "tags": format!("{}, {}", p.seed.category, p.seed.brand),
        "created_at": rest_time(p.seed.created_at),
        "updated_at": rest_time(p.updated_at),
        "published_at": rest_time(p.seed.created_at),
        "variants": [{
            "id": n,
            "admin_graphql_api_id": gid("ProductVariant", n),
            "product_id": n,
            "title": "Default Title",
            "sku": p.seed.sku,
            "barcode": p.seed.ean,
            "price": money(p.price_cents),
            "compare_at_price": null,
            "position": 1,
            "inventory_item_id": n,
            "inventory_quantity": p.stock,
            "created_at": rest_time(p.seed.created_at),
            "updated_at": rest_time(p.updated_at),
        }],
    })
}

fn transport() -> &'static Transport {
    static TRANSPORT: OnceLock<Transport> = OnceLock::new();
    TRANSPORT.get_or_init(|| {
        Transport::new(
            Duration::from_secs(5),
            RetryPolicy {
                max_retries: 2,
                min_delay: Duration::from_millis(200),
                max_delay: Duration::from_secs(2),
                max_retry_after: Duration::from_secs(5),
            },
        )
    })
}

/// Sends `products/update` for each changed product to each subscriber, in the
/// background: a slow or failing subscriber never holds up the mutation.
pub fn deliver_product_updates(ctx: &Ctx<'_>) {
    let mut changed = ctx.changed.clone();
    changed.sort_unstable();
    changed.dedup();
    if changed.is_empty() {
        return;
    }
    let subscribers: Vec<String> = with_state(&ctx.shop, |state| {
        state
            .subscriptions
            .iter()
            .filter(|s| s.topic == PRODUCTS_UPDATE)
            .map(|s| s.callback_url.clone())
            .collect()
    });
    if subscribers.is_empty() {
        return;
    }
    let secret = ctx.sandbox.secret().shopify_app().1;
    for index in changed {
        let body = product_payload(&ctx.shop.product(index))
            .to_string()
            .into_bytes();
        let signature = webhook_hmac(&secret, &body);
        for url in &subscribers {
            let (url, body, signature) = (url.clone(), body.clone(), signature.clone());
            let domain = ctx.domain.to_owned();
            tokio::spawn(async move {
                let webhook_id = uuid::Uuid::new_v4().to_string();
                let triggered_at = Utc::now().to_rfc3339_opts(SecondsFormat::Nanos, true);
                let sent = transport()
                    .send(|client| {
                        client
                            .post(&url)
                            .header("Content-Type", "application/json")
                            .header("X-Shopify-Topic", "products/update")
                            .header("X-Shopify-Shop-Domain", &domain)
                            .header("X-Shopify-API-Version", API_VERSION)
                            .header("X-Shopify-Webhook-Id", &webhook_id)
                            .header("X-Shopify-Event-Id", &webhook_id)
                            .header("X-Shopify-Triggered-At", &triggered_at)
                            .header("X-Shopify-Hmac-Sha256", &signature)
                            .body(body.clone())
                    })
                    .await;
                match sent {
                    Ok(r) if r.status().is_success() => {
                        tracing::debug!(%url, "sandbox webhook delivered");
                    }
                    Ok(r) => tracing::warn!(%url, status = %r.status(), "sandbox webhook refused"),
                    Err(e) => tracing::warn!(%url, error = %e, "sandbox webhook not delivered"),
                }
            });
        }
    }
}
