//! `/units`: the shop's products as Kaufland units (offers), prices in cents.

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Map, Value};

use super::auth::Signed;
use super::params::{paging, Params, STOREFRONT};
use super::problem::Problem;
use super::{iso, shop};
use crate::catalogue::SeedProduct;
use crate::shops::{Product, Shop};
use crate::Sandbox;

/// `id_unit` of the product at index 0 is this plus one.
const UNIT_ID_BASE: u64 = 100_000_000_000;
const PRODUCT_ID_BASE: u64 = 300_000_000;
const CATEGORY_ID_BASE: u64 = 30_000;
/// The most a listing price may be in EUR cents (1 million EUR).
const MAX_PRICE_CENTS: i64 = 100_000_000;
/// Properties of `UnitPatchRequest`; any other is refused.
const PATCHABLE: &[&str] = &[
    "status",
    "amount",
    "handling_time",
    "listing_price",
    "minimum_price",
    "note",
    "id_shipping_group",
    "id_warehouse",
    "vat_indicator",
    "eco_participation",
    "battery_participation",
];

pub fn unit_id(index: usize) -> u64 {
    UNIT_ID_BASE + index as u64 + 1
}

fn index_of_unit(shop: &Shop, id_unit: &str) -> Option<usize> {
    let index = id_unit.parse::<u64>().ok()?.checked_sub(UNIT_ID_BASE + 1)?;
    usize::try_from(index)
        .ok()
        .filter(|i| *i < shop.catalogue.products())
}

/// Kaufland's `Product` (with `embedded=products`, and inside order units).
pub fn product_json(seed: &SeedProduct, origin: &str) -> Value {
    let id_product = PRODUCT_ID_BASE + seed.index as u64 + 1;
    json!({
        "id_product": id_product,
        "storefront": STOREFRONT,
        "title": seed.title,
        "eans": [seed.ean],
        "id_category": CATEGORY_ID_BASE + crate::fnv1a(seed.category.as_bytes()) % 1_000,
        "main_picture": format!("{origin}/_sandbox/images/{}-1.svg", seed.sku),
        "manufacturer": seed.brand,
        "url": format!("https://www.kaufland.de/product/{id_product}/"),
        "age_rating": 0,
        "is_valid": true,
        "dangerous_goods_li_shipping": null,
        "danger_label_9A": null,
    })
}

/// Food is sold at the reduced VAT rate.
pub fn reduced_vat(seed: &SeedProduct) -> bool {
    seed.category == "Lebensmittel"
}

/// Kaufland's `Unit` with exactly its properties; `product` and the participations only
/// when embedded.
fn unit_json(product: &Product, embedded: &[&str], origin: &str) -> Value {
    let seed = &product.seed;
    // Every 25th unit is on hold, as some of a real seller's are.
    let status = if seed.index % 25 == 24 {
        "ONHOLD"
    } else {
        "AVAILABLE"
    };
    let mut unit = json!({
        "status": status,
        "currency": "EUR",
        "condition": "NEW",
        "id_unit": unit_id(seed.index),
        "note": null,
        "listing_price": product.price_cents,
        // No Smart Pricing: the minimum and the offered price follow the listing price.
        "minimum_price": product.price_cents,
        "price": product.price_cents,
        "id_offer": seed.sku,
        "id_product": PRODUCT_ID_BASE + seed.index as u64 + 1,
        "id_shipping_group": null,
        "id_warehouse": null,
        "amount": product.stock,
        "date_inserted_iso": iso(seed.created_at),
        "date_lastchange_iso": iso(product.updated_at),
        "handling_time": 1,
        "shipping_rate": 0,
        "storefront": STOREFRONT,
        "transport_time_min": 1,
        "transport_time_max": 3,
        "fulfillment_type": "fulfilled_by_merchant",
        "vat_indicator": if reduced_vat(seed) { "reduced_rate_1" } else { "standard_rate" },
    });
    if let Value::Object(fields) = &mut unit {
        if embedded.contains(&"products") {
            fields.insert("product".into(), product_json(seed, origin));
        }
        for participation in ["eco_participation", "battery_participation"] {
            if embedded.contains(&participation) {
                fields.insert(participation.into(), Value::Null);
            }
        }
    }
    unit
}

/// `GET /units?storefront=de&limit&offset&embedded&id_offer&id_product&ean`
pub async fn list(State(sandbox): State<Sandbox>, request: Signed) -> Result<Json<Value>, Problem> {
    let params = &request.params;
    params.storefront(true)?;
    let (offset, limit) = paging(params, 0)?;
    let shop = shop(&sandbox, &request);
    let embedded = params.all("embedded");
    let matching = matching_units(&shop, params)?;
    let data: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(limit)
        .map(|&i| unit_json(&shop.product(i), &embedded, &request.origin))
        .collect();
    Ok(Json(json!({
        "data": data,
        "pagination": {"offset": offset, "limit": limit, "total": matching.len()},
    })))
}

/// The indices of the units the filters select, in id order.
fn matching_units(shop: &Shop, params: &Params) -> Result<Vec<usize>, Problem> {
    let all = 0..shop.catalogue.products();
    if let Some(sku) = params.one("id_offer") {
        return Ok(shop.index_of_sku(sku).into_iter().collect());
    }
    if let Some(id) = params.one("id_product") {
        let id: u64 = id
            .parse()
            .map_err(|_| Problem::invalid("id_product", "must be an integer"))?;
        let index = id.checked_sub(PRODUCT_ID_BASE + 1).map(|i| i as usize);
        return Ok(all.filter(|i| Some(*i) == index).collect());
    }
    if let Some(ean) = params.one("ean") {
        return Ok(all
            .filter(|&i| shop.catalogue.product(i).ean == ean)
            .collect());
    }
    Ok(all.collect())
}

/// `GET /units/{id_unit}?storefront=de&embedded`
pub async fn one(
    State(sandbox): State<Sandbox>,
    Path(id_unit): Path<String>,
    request: Signed,
) -> Result<Json<Value>, Problem> {
    request.params.storefront(true)?;
    let shop = shop(&sandbox, &request);
    let index = index_of_unit(&shop, &id_unit).ok_or_else(unit_not_found)?;
    let embedded = request.params.all("embedded");
    Ok(Json(json!({
        "data": unit_json(&shop.product(index), &embedded, &request.origin),
    })))
}

/// `PATCH /units/{id_unit}?storefront=de` with a `UnitPatchRequest`: the listing price and
/// the amount change the shop; the other properties are checked and otherwise ignored.
pub async fn patch(
    State(sandbox): State<Sandbox>,
    Path(id_unit): Path<String>,
    request: Signed,
) -> Result<Json<Value>, Problem> {
    request.params.storefront(true)?;
    let shop = shop(&sandbox, &request);
    let index = index_of_unit(&shop, &id_unit).ok_or_else(unit_not_found)?;
    let body: Map<String, Value> = serde_json::from_slice(&request.body)
        .map_err(|_| Problem::bad_request("The request body must be a JSON object"))?;
    let (price, amount) = validate_patch(&body)?;
    if let Some(cents) = price {
        shop.set_price(index, cents);
    }
    if let Some(stock) = amount {
        shop.set_stock(index, stock);
    }
    let embedded = request.params.all("embedded");
    Ok(Json(json!({
        "data": unit_json(&shop.product(index), &embedded, &request.origin),
    })))
}

fn unit_not_found() -> Problem {
    Problem::not_found("Unit not found")
}

/// The listing price and amount of a patch, or every field error in it.
fn validate_patch(body: &Map<String, Value>) -> Result<(Option<i64>, Option<i64>), Problem> {
    let mut errors = Vec::new();
    let mut int = |field: &str, min: i64, max: i64| -> Option<i64> {
        let value = body.get(field)?;
        let n = value.as_i64().filter(|n| (min..=max).contains(n));
        if n.is_none() {
            errors.push((
                field.to_owned(),
                format!("This value should be an integer between {min} and {max}."),
            ));
        }
        n
    };
    let price = int("listing_price", 1, MAX_PRICE_CENTS);
    let amount = int("amount", 0, i64::from(i32::MAX));
    int("minimum_price", 1, MAX_PRICE_CENTS);
    int("handling_time", 0, 100);
    if let Some(status) = body.get("status") {
        if !matches!(status.as_str(), Some("AVAILABLE" | "ONHOLD")) {
            errors.push((
                "status".into(),
                "This value should be AVAILABLE or ONHOLD.".into(),
            ));
        }
    }
    for field in body.keys().filter(|k| !PATCHABLE.contains(&k.as_str())) {
        errors.push((field.clone(), "This field was not expected.".into()));
    }
    if errors.is_empty() {
        Ok((price, amount))
    } else {
        Err(Problem::validation(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_name_every_invalid_field() {
        let body = json!({"listing_price": 0, "amount": -1, "colour": "red"});
        let Value::Object(body) = body else {
            unreachable!()
        };
        let problem = format!("{:?}", validate_patch(&body).unwrap_err());
        assert!(problem.contains("listing_price"));
        assert!(problem.contains("amount"));
        assert!(problem.contains("colour"));
        let Value::Object(ok) = json!({"listing_price": 1999, "amount": 0}) else {
            unreachable!()
        };
        assert_eq!(validate_patch(&ok).unwrap(), (Some(1999), Some(0)));
    }
}
