//! FBA Inventory v1: getInventorySummaries, 50 summaries a page.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum::Extension;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::auth::Seller;
use super::params::Params;
use super::throttle::{Buckets, Operation};
use super::{asin, date, decode_token, digest, encode_token, MARKETPLACE};
use crate::faults::Vendor;
use crate::shops::Product;
use crate::Sandbox;

const PER_PAGE: usize = 50;

#[derive(Serialize, Deserialize)]
struct PageToken {
    next: usize,
}

pub(super) async fn summaries(
    State(sandbox): State<Sandbox>,
    Extension(buckets): Extension<Arc<Buckets>>,
    seller: Seller,
    RawQuery(query): RawQuery,
) -> Result<Response, Response> {
    let call = buckets.admit(&sandbox, &seller.0, Operation::GetInventorySummaries)?;
    let params = Params::parse(query.as_deref());
    if params.get("granularityType") != Some("Marketplace") {
        return Err(call.invalid("'granularityType' must be Marketplace."));
    }
    if params.get("granularityId") != Some(MARKETPLACE) {
        return Err(call.invalid("'granularityId' must be the seller's marketplace."));
    }
    params
        .marketplaces("marketplaceIds", 1)
        .map_err(|m| call.invalid(&m))?;
    let since = params.date("startDateTime").map_err(|m| call.invalid(&m))?;
    let details = params.get("details") == Some("true");
    let skus = params.list("sellerSkus");
    if skus.len() > 50 {
        return Err(call.invalid("'sellerSkus' takes at most 50 SKUs."));
    }
    let start = match params.get("nextToken") {
        Some(token) => {
            decode_token::<PageToken>(token)
                .ok_or_else(|| call.invalid("Invalid nextToken."))?
                .next
        }
        None => 0,
    };
    let shop = sandbox.shop(Vendor::Amazon, &seller.0);
    // As the model says: startDateTime wins over sellerSkus, which wins over sellerSku.
    let single = params.get("sellerSku").map(str::to_owned);
    let wanted = |p: &Product| match (since, skus.is_empty(), &single) {
        (Some(since), ..) => p.updated_at >= since,
        (None, false, _) => skus.contains(&p.seed.sku),
        (None, true, Some(sku)) => *sku == p.seed.sku,
        (None, true, None) => true,
    };
    let total = shop.catalogue.products();
    let mut page = Vec::new();
    let mut index = start;
    while index < total && page.len() < PER_PAGE {
        let product = shop.product(index);
        if wanted(&product) {
            page.push(summary(&seller.0, &product, details));
        }
        index += 1;
    }
    let more = (index..total).any(|i| wanted(&shop.product(i)));
    let mut answer = json!({
        "payload": {
            "granularity": { "granularityType": "Marketplace", "granularityId": MARKETPLACE },
            "inventorySummaries": page,
        },
    });
    if more {
        answer["pagination"] = json!({ "nextToken": encode_token(&PageToken { next: index }) });
    }
    Ok(call.ok(answer))
}

fn summary(seller_id: &str, product: &Product, details: bool) -> Value {
    let seed = &product.seed;
    let mut summary = json!({
        "asin": asin(seller_id, seed.index),
        "fnSku": format!("X00{:07X}", digest(seller_id, "fnsku", seed.index) % 0x1000_0000),
        "sellerSku": seed.sku,
        "condition": "NewItem",
        "lastUpdatedTime": date(product.updated_at),
        "productName": seed.title,
        "totalQuantity": product.stock,
        "stores": [],
    });
    if details {
        summary["inventoryDetails"] = json!({
            "fulfillableQuantity": product.stock,
            "inboundWorkingQuantity": 0,
            "inboundShippedQuantity": 0,
            "inboundReceivingQuantity": 0,
        });
    }
    summary
}
