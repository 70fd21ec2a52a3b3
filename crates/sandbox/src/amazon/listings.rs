//! Listings Items 2021-08-01: searchListingsItems, getListingsItem and patchListingsItem
//! (which really changes the shop's price and stock).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::Extension;
use http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::auth::Seller;
use super::params::Params;
use super::throttle::{Buckets, Call, Operation};
use super::{amount, asin, date, decode_token, encode_token, CURRENCY, MARKETPLACE};
use crate::faults::Vendor;
use crate::shops::{Product, Shop};
use crate::Sandbox;

const INCLUDED_DATA: &[&str] = &[
    "summaries",
    "attributes",
    "issues",
    "offers",
    "fulfillmentAvailability",
    "procurement",
    "relationships",
    "productTypes",
];

/// The `includedData` of a request: its own list, or `default`.
fn included(params: &Params, call: &Call, default: &str) -> Result<Vec<String>, Response> {
    let mut list = params.list("includedData");
    if list.is_empty() {
        list.push(default.to_owned());
    }
    match list.iter().find(|d| !INCLUDED_DATA.contains(&d.as_str())) {
        Some(unknown) => Err(call.invalid(&format!("Invalid includedData value: {unknown}"))),
        None => Ok(list),
    }
}

fn product_type(category: &str) -> &'static str {
    match category {
        "Küche" => "KITCHEN",
        "Lebensmittel" => "GROCERY",
        "Haushalt" => "HOME",
        "Garten" => "OUTDOOR_LIVING",
        "Sport" => "SPORTING_GOODS",
        "Elektronik" => "CONSUMER_ELECTRONICS",
        "Büro" => "OFFICE_PRODUCTS",
        "Mode" => "APPAREL",
        "Kinder" => "TOY",
        "Haustier" => "PET_SUPPLIES",
        _ => "PRODUCT",
    }
}

fn statuses(product: &Product) -> Vec<&'static str> {
    if product.stock > 0 {
        vec!["BUYABLE", "DISCOVERABLE"]
    } else {
        vec!["DISCOVERABLE"]
    }
}

fn item_json(seller_id: &str, product: &Product, included: &[String], base: &str) -> Value {
    let seed = &product.seed;
    let text = |value: &str| json!([{ "value": value, "language_tag": "de_DE", "marketplace_id": MARKETPLACE }]);
    let mut item = json!({ "sku": seed.sku });
    for data in included {
        item[data.as_str()] = match data.as_str() {
            "summaries" => json!([{
                "marketplaceId": MARKETPLACE,
                "asin": asin(seller_id, seed.index),
                "productType": product_type(seed.category),
                "conditionType": "new_new",
                "status": statuses(product),
                "itemName": seed.title,
                "createdDate": date(seed.created_at),
                "lastUpdatedDate": date(product.updated_at),
                "mainImage": {
                    "link": format!("{base}/_sandbox/images/{}-1.svg", seed.sku),
                    "height": 600,
                    "width": 600,
                },
            }]),
            "attributes" => json!({
                "item_name": text(&seed.title),
                "brand": text(seed.brand),
                "product_description": text(&seed.description),
                "condition_type": [{ "value": "new_new", "marketplace_id": MARKETPLACE }],
                "externally_assigned_product_identifier": [{
                    "type": "ean", "value": seed.ean, "marketplace_id": MARKETPLACE,
                }],
                "purchasable_offer": [{
                    "marketplace_id": MARKETPLACE,
                    "currency": CURRENCY,
                    "our_price": [{ "schedule": [{ "value_with_tax": product.price_cents as f64 / 100.0 }] }],
                }],
                "fulfillment_availability": [{
                    "fulfillment_channel_code": "DEFAULT", "quantity": product.stock,
                }],
            }),
            "offers" => json!([{
                "marketplaceId": MARKETPLACE,
                "offerType": "B2C",
                "price": { "currencyCode": CURRENCY, "amount": amount(product.price_cents) },
            }]),
            "fulfillmentAvailability" => json!([{
                "fulfillmentChannelCode": "DEFAULT", "quantity": product.stock,
            }]),
            "productTypes" => json!([{
                "marketplaceId": MARKETPLACE, "productType": product_type(seed.category),
            }]),
            "relationships" => json!([{ "marketplaceId": MARKETPLACE, "relationships": [] }]),
            // Seller listings have no issues here and no vendor procurement.
            _ => json!([]),
        };
    }
    item
}

#[derive(Serialize, Deserialize)]
struct PageToken {
    offset: usize,
}

pub(super) async fn search(
    State(sandbox): State<Sandbox>,
    Extension(buckets): Extension<Arc<Buckets>>,
    seller: Seller,
    Path(seller_id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, Response> {
    seller.owns(&seller_id)?;
    let call = buckets.admit(&sandbox, &seller.0, Operation::SearchListingsItems)?;
    let params = Params::parse(query.as_deref());
    params
        .marketplaces("marketplaceIds", 1)
        .map_err(|m| call.invalid(&m))?;
    let included = included(&params, &call, "summaries")?;
    let page_size = params
        .number("pageSize", 1..=20, 10)
        .map_err(|m| call.invalid(&m))?;
    let offset = match params.get("pageToken") {
        Some(token) => {
            decode_token::<PageToken>(token)
                .ok_or_else(|| call.invalid("Invalid pageToken."))?
                .offset
        }
        None => 0,
    };
    let shop = sandbox.shop(Vendor::Amazon, &seller.0);
    let matching = matching(&shop, &seller.0, &params).map_err(|m| call.invalid(&m))?;
    let base = sandbox.image_base(&headers);
    let end = (offset + page_size).min(matching.len());
    let items: Vec<Value> = matching
        .get(offset..end)
        .unwrap_or_default()
        .iter()
        .map(|&i| item_json(&seller.0, &shop.product(i), &included, &base))
        .collect();
    let mut pagination = json!({});
    if end < matching.len() {
        pagination["nextToken"] = json!(encode_token(&PageToken { offset: end }));
    }
    if offset > 0 {
        pagination["previousToken"] = json!(encode_token(&PageToken {
            offset: offset.saturating_sub(page_size)
        }));
    }
    Ok(call.ok(json!({
        "numberOfResults": matching.len(),
        "pagination": pagination,
        "items": items,
    })))
}

/// The indices of the listings a search selects, in its order.
fn matching(shop: &Shop, seller_id: &str, params: &Params) -> Result<Vec<usize>, String> {
    let sort_by = params.get("sortBy").unwrap_or("lastUpdatedDate");
    let descending = match params.get("sortOrder").unwrap_or("DESC") {
        "ASC" => false,
        "DESC" => true,
        other => return Err(format!("Invalid sortOrder: {other}")),
    };
    let identifiers = params.list("identifiers");
    let identifiers_type = params.get("identifiersType");
    if identifiers.len() > 20 {
        return Err("'identifiers' takes at most 20 values.".into());
    }
    if identifiers.is_empty() != identifiers_type.is_none() {
        return Err("'identifiers' and 'identifiersType' go together.".into());
    }
    let created_after = params.date("createdAfter")?;
    let created_before = params.date("createdBefore")?;
    let updated_after = params.date("lastUpdatedAfter")?;
    let updated_before = params.date("lastUpdatedBefore")?;
    let with_status = params.list("withStatus");
    let without_status = params.list("withoutStatus");
    let unfiltered = identifiers.is_empty()
        && [created_after, created_before, updated_after, updated_before]
            .iter()
            .all(Option::is_none)
        && with_status.is_empty()
        && without_status.is_empty();
    let count = shop.catalogue.products();
    // Creation order is index order: the usual full read never computes the catalogue.
    if unfiltered && sort_by == "createdDate" {
        let all: Vec<usize> = (0..count).collect();
        return Ok(if descending {
            all.into_iter().rev().collect()
        } else {
            all
        });
    }
    let selected = |p: &Product| {
        let listed = statuses(p);
        let identified = identifiers.is_empty()
            || identifiers.iter().any(|id| match identifiers_type {
                Some("SKU") => *id == p.seed.sku,
                Some("EAN") | Some("GTIN") => *id == p.seed.ean,
                Some("ASIN") => *id == asin(seller_id, p.seed.index),
                _ => false,
            });
        identified
            && created_after.is_none_or(|a| p.seed.created_at >= a)
            && created_before.is_none_or(|b| p.seed.created_at <= b)
            && updated_after.is_none_or(|a| p.updated_at >= a)
            && updated_before.is_none_or(|b| p.updated_at <= b)
            && with_status.iter().all(|s| listed.contains(&s.as_str()))
            && !without_status.iter().any(|s| listed.contains(&s.as_str()))
    };
    let mut products: Vec<Product> = (0..count)
        .map(|i| shop.product(i))
        .filter(|p| selected(p))
        .collect();
    match sort_by {
        "sku" => products.sort_by(|a, b| a.seed.sku.cmp(&b.seed.sku)),
        "createdDate" => products.sort_by_key(|p| p.seed.created_at),
        "lastUpdatedDate" => products.sort_by_key(|p| p.updated_at),
        other => return Err(format!("Invalid sortBy: {other}")),
    }
    if descending {
        products.reverse();
    }
    Ok(products.iter().map(|p| p.seed.index).collect())
}

pub(super) async fn get_item(
    State(sandbox): State<Sandbox>,
    Extension(buckets): Extension<Arc<Buckets>>,
    seller: Seller,
    Path((seller_id, sku)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, Response> {
    seller.owns(&seller_id)?;
    let call = buckets.admit(&sandbox, &seller.0, Operation::GetListingsItem)?;
    let params = Params::parse(query.as_deref());
    params
        .marketplaces("marketplaceIds", 1)
        .map_err(|m| call.invalid(&m))?;
    let included = included(&params, &call, "summaries")?;
    let shop = sandbox.shop(Vendor::Amazon, &seller.0);
    let index = shop
        .index_of_sku(&sku)
        .ok_or_else(|| sku_not_found(&call, &sku))?;
    let base = sandbox.image_base(&headers);
    Ok(call.ok(item_json(&seller.0, &shop.product(index), &included, &base)))
}

fn sku_not_found(call: &Call, sku: &str) -> Response {
    call.not_found(
        "NOT_FOUND",
        &format!("SKU '{sku}' not found in marketplace {MARKETPLACE}"),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PatchRequest {
    product_type: String,
    patches: Vec<PatchOperation>,
}

#[derive(Deserialize)]
struct PatchOperation {
    op: String,
    path: String,
    #[serde(default)]
    value: Vec<Value>,
}

/// What a valid patch changes.
#[derive(Default)]
struct Change {
    price_cents: Option<i64>,
    stock: Option<i64>,
}

pub(super) async fn patch_item(
    State(sandbox): State<Sandbox>,
    Extension(buckets): Extension<Arc<Buckets>>,
    seller: Seller,
    Path((seller_id, sku)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, Response> {
    seller.owns(&seller_id)?;
    let call = buckets.admit(&sandbox, &seller.0, Operation::PatchListingsItem)?;
    let params = Params::parse(query.as_deref());
    params
        .marketplaces("marketplaceIds", 1)
        .map_err(|m| call.invalid(&m))?;
    let request: PatchRequest = serde_json::from_slice(&body)
        .map_err(|e| call.invalid(&format!("Invalid request body: {e}")))?;
    if request.patches.is_empty() {
        return Err(call.invalid("'patches' needs at least one operation."));
    }
    let shop = sandbox.shop(Vendor::Amazon, &seller.0);
    let index = shop
        .index_of_sku(&sku)
        .ok_or_else(|| sku_not_found(&call, &sku))?;
    let own_type = product_type(shop.catalogue.product(index).category);
    let mut issues = Vec::new();
    if request.product_type != "PRODUCT" && request.product_type != own_type {
        issues.push(issue(
            "90000900",
            &format!(
                "The product type '{}' does not match the listing's product type '{own_type}'.",
                request.product_type
            ),
            "productType",
        ));
    }
    let mut change = Change::default();
    for patch in &request.patches {
        let Some(attribute) = patch.path.strip_prefix("/attributes/") else {
            return Err(call.invalid(&format!("Invalid patch path: {}", patch.path)));
        };
        if !["add", "replace", "merge", "delete"].contains(&patch.op.as_str()) {
            return Err(call.invalid(&format!("Invalid patch op: {}", patch.op)));
        }
        if patch.op == "delete" {
            continue;
        }
        match attribute {
            "purchasable_offer" => match offer_price(&patch.value) {
                Ok(cents) => change.price_cents = Some(cents),
                Err(message) => issues.push(issue("90000900", &message, attribute)),
            },
            "fulfillment_availability" => match stock(&patch.value) {
                Ok(quantity) => change.stock = Some(quantity),
                Err(message) => issues.push(issue("90000900", &message, attribute)),
            },
            // Other attributes are accepted and not kept.
            _ => {}
        }
    }
    let status = if !issues.is_empty() {
        "INVALID"
    } else if params.get("mode") == Some("VALIDATION_PREVIEW") {
        "VALID"
    } else {
        if let Some(cents) = change.price_cents {
            shop.set_price(index, cents);
        }
        if let Some(quantity) = change.stock {
            shop.set_stock(index, quantity);
        }
        "ACCEPTED"
    };
    Ok(call.ok(json!({
        "sku": sku,
        "status": status,
        "submissionId": uuid::Uuid::new_v4().simple().to_string(),
        "issues": issues,
    })))
}

fn issue(code: &str, message: &str, attribute: &str) -> Value {
    json!({
        "code": code,
        "message": message,
        "severity": "ERROR",
        "attributeNames": [attribute],
        "categories": ["INVALID_ATTRIBUTE"],
    })
}

/// The price of a `purchasable_offer` for Amazon.de: euros, positive, whole cents.
fn offer_price(value: &[Value]) -> Result<i64, String> {
    let offer = value
        .iter()
        .find(|o| o["marketplace_id"] == MARKETPLACE)
        .ok_or("'purchasable_offer' has no offer for marketplace A1PA6795UKMFR9.")?;
    if offer["currency"] != CURRENCY {
        return Err(format!(
            "The currency {} is not the marketplace's currency EUR.",
            offer["currency"]
        ));
    }
    let price = offer["our_price"][0]["schedule"][0]["value_with_tax"]
        .as_f64()
        .ok_or("'our_price' needs a schedule with a value_with_tax number.")?;
    let cents = (price * 100.0).round();
    if !(price > 0.0 && cents <= 1e10 && (price * 100.0 - cents).abs() < 1e-6) {
        return Err(format!(
            "The price {price} must be a positive amount in whole cents."
        ));
    }
    Ok(cents as i64)
}

/// The seller's own stock in a `fulfillment_availability`: a whole number, not negative.
fn stock(value: &[Value]) -> Result<i64, String> {
    let availability = value
        .iter()
        .find(|a| a["fulfillment_channel_code"] == "DEFAULT")
        .ok_or("'fulfillment_availability' needs fulfillment_channel_code DEFAULT.")?;
    match availability["quantity"].as_i64() {
        Some(quantity) if quantity >= 0 => Ok(quantity),
        _ => Err(format!(
            "The quantity {} must be a whole number of 0 or more.",
            availability["quantity"]
        )),
    }
}
