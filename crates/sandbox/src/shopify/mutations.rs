//! The mutations the cockpit pushes with: prices (`productVariantsBulkUpdate`), stock
//! (`inventorySetQuantities`) and webhook subscriptions. Bad input gives `userErrors`
//! with Shopify's codes and changes nothing.

use chrono::Utc;
use serde_json::{json, Value as Json};

use super::execute::Out;
use super::products::{index_of, location_gid};
use super::resolve::{gid, str_arg, unknown, Args, Ctx, Obj, Resolved};
use super::webhooks;

pub fn resolve(ctx: &mut Ctx<'_>, field: &str, args: &Args) -> Resolved {
    match field {
        "productVariantsBulkUpdate" => variants_bulk_update(ctx, args),
        "inventorySetQuantities" => set_quantities(ctx, args),
        "webhookSubscriptionCreate" => webhooks::create(ctx, args),
        "webhookSubscriptionDelete" => webhooks::delete(ctx, args),
        _ => unknown(field),
    }
}

/// A `userErrors` entry of the given error type.
pub fn user_error(
    type_name: &'static str,
    field: &[&str],
    message: &str,
    code: Option<&str>,
) -> Obj {
    let mut fields = vec![
        ("field", Out::Leaf(json!(field))),
        ("message", Out::Leaf(json!(message))),
    ];
    if let Some(code) = code {
        fields.push(("code", Out::Leaf(json!(code))));
    }
    Obj::Bag { type_name, fields }
}

/// A price as Shopify's `Money` input takes it (a decimal string or number), in cents.
fn cents(value: &Json) -> Option<i64> {
    let text = match value {
        Json::String(s) => s.trim().to_owned(),
        Json::Number(n) => n.to_string(),
        _ => return None,
    };
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.as_str()),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let valid = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !valid(whole) || !valid(fraction) || fraction.len() > 2 {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let fraction: i64 = format!("{fraction:0<2}").parse().ok()?;
    let cents = whole.checked_mul(100)?.checked_add(fraction)?;
    Some(if negative { -cents } else { cents })
}

/// The most a price may be (Shopify caps prices far above any real product).
const MAX_PRICE_CENTS: i64 = 10_000_000_000_000;

fn variants_bulk_update(ctx: &mut Ctx<'_>, args: &Args) -> Resolved {
    const ERROR: &str = "ProductVariantsBulkUpdateUserError";
    let payload = |product: Out, variants: Out, errors: Vec<Obj>| {
        Ok(Out::Object(Obj::Bag {
            type_name: "ProductVariantsBulkUpdatePayload",
            fields: vec![
                ("product", product),
                ("productVariants", variants),
                ("userErrors", Out::List(errors)),
            ],
        }))
    };
    let Some(index) = index_of(ctx, str_arg(args, "productId"), "Product") else {
        let error = user_error(
            ERROR,
            &["productId"],
            "Product does not exist",
            Some("PRODUCT_DOES_NOT_EXIST"),
        );
        return payload(Out::Null, Out::Null, vec![error]);
    };
    let Some(variants) = args.get("variants").and_then(Json::as_array) else {
        return Err("Argument 'variants' must be a list of ProductVariantsBulkInput".into());
    };
    let partial = args.get("allowPartialUpdates").and_then(Json::as_bool) == Some(true);
    let mut errors = Vec::new();
    let mut prices = Vec::new();
    for (i, variant) in variants.iter().enumerate() {
        let at = i.to_string();
        let error = |field: &str, message: &str, code: &str| {
            let path: Vec<&str> = ["variants", at.as_str(), field]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect();
            user_error(ERROR, &path, message, Some(code))
        };
        let Some(id) = variant.get("id").and_then(Json::as_str) else {
            errors.push(error(
                "id",
                "Product variant is missing ID attribute",
                "PRODUCT_VARIANT_ID_MISSING",
            ));
            continue;
        };
        match index_of(ctx, id, "ProductVariant") {
            None => {
                errors.push(error(
                    "id",
                    "Product variant does not exist",
                    "PRODUCT_VARIANT_DOES_NOT_EXIST",
                ));
                continue;
            }
            Some(v) if v != index => {
                errors.push(error(
                    "id",
                    "Product variant does not belong to the product",
                    "MUST_BE_FOR_THIS_PRODUCT",
                ));
                continue;
            }
            Some(_) => {}
        }
        if variant
            .get("inventoryQuantities")
            .is_some_and(|q| !q.is_null())
        {
            errors.push(error(
                "inventoryQuantities",
                "Inventory quantities can only be provided during create. To update inventory for existing variants, use inventorySetQuantities.",
                "NO_INVENTORY_QUANTITIES_ON_VARIANTS_UPDATE",
            ));
            continue;
        }
        match variant.get("price").filter(|p| !p.is_null()) {
            None => {}
            Some(price) => match cents(price) {
                None => errors.push(error("price", "Price is invalid", "INVALID_INPUT")),
                Some(c) if c < 0 => errors.push(error(
                    "price",
                    "Price must be greater than or equal to 0",
                    "GREATER_THAN_OR_EQUAL_TO",
                )),
                Some(c) if c > MAX_PRICE_CENTS => errors.push(error(
                    "price",
                    "Price must be less than 1000000000000000000",
                    "INVALID_INPUT",
                )),
                Some(c) => prices.push(c),
            },
        }
    }
    if !errors.is_empty() && !partial {
        let product = Obj::Product(Box::new(ctx.shop.product(index)));
        return payload(Out::Object(product), Out::Null, errors);
    }
    // One variant per product: the last price given wins, as in a sequential update.
    if let Some(&price) = prices.last() {
        ctx.shop.set_price(index, price);
        ctx.changed.push(index);
    }
    let product = Box::new(ctx.shop.product(index));
    let updated = if variants.is_empty() {
        Vec::new()
    } else {
        vec![Obj::Variant(product.clone())]
    };
    payload(
        Out::Object(Obj::Product(product)),
        Out::List(updated),
        errors,
    )
}

/// Shopify's documented adjustment reasons.
const REASONS: &[&str] = &[
    "correction",
    "cycle_count_available",
    "damaged",
    "movement_canceled",
    "movement_created",
    "movement_received",
    "movement_updated",
    "other",
    "promotion",
    "quality_control",
    "received",
    "reservation_created",
    "reservation_deleted",
    "reservation_updated",
    "restock",
    "safety_stock",
    "shrinkage",
];

const MAX_QUANTITY: i64 = 1_000_000_000;

fn set_quantities(ctx: &mut Ctx<'_>, args: &Args) -> Resolved {
    const ERROR: &str = "InventorySetQuantitiesUserError";
    let payload = |group: Out, errors: Vec<Obj>| {
        Ok(Out::Object(Obj::Bag {
            type_name: "InventorySetQuantitiesPayload",
            fields: vec![
                ("inventoryAdjustmentGroup", group),
                ("userErrors", Out::List(errors)),
            ],
        }))
    };
    let input = args.get("input").cloned().unwrap_or(Json::Null);
    let name = input.get("name").and_then(Json::as_str).unwrap_or_default();
    let reason = input
        .get("reason")
        .and_then(Json::as_str)
        .unwrap_or_default();
    let ignore_compare = input.get("ignoreCompareQuantity").and_then(Json::as_bool) == Some(true);
    let quantities = input
        .get("quantities")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    let mut errors = Vec::new();
    if name != "available" && name != "on_hand" {
        errors.push(user_error(
            ERROR,
            &["input", "name"],
            "The quantity name must be either 'available' or 'on_hand'.",
            Some("INVALID_NAME"),
        ));
    }
    if !REASONS.contains(&reason) {
        errors.push(user_error(
            ERROR,
            &["input", "reason"],
            "The specified reason is invalid.",
            Some("INVALID_REASON"),
        ));
    }
    let mut sets: Vec<(usize, i64)> = Vec::new();
    for (i, q) in quantities.iter().enumerate() {
        let at = i.to_string();
        let error = |field: &str, message: &str, code: &str| {
            user_error(
                ERROR,
                &["input", "quantities", &at, field],
                message,
                Some(code),
            )
        };
        let item = q
            .get("inventoryItemId")
            .and_then(Json::as_str)
            .and_then(|id| index_of(ctx, id, "InventoryItem"));
        let Some(item) = item else {
            errors.push(error(
                "inventoryItemId",
                "The specified inventory item could not be found.",
                "INVALID_INVENTORY_ITEM",
            ));
            continue;
        };
        if q.get("locationId").and_then(Json::as_str) != Some(location_gid().as_str()) {
            errors.push(error(
                "locationId",
                "The specified location could not be found.",
                "INVALID_LOCATION",
            ));
            continue;
        }
        let Some(quantity) = q.get("quantity").and_then(Json::as_i64) else {
            return Err(format!(
                "Argument 'quantity' on InputObject 'InventoryQuantityInput' has an invalid value ({}). Expected type 'Int!'.",
                q.get("quantity").unwrap_or(&Json::Null)
            ));
        };
        if quantity < 0 {
            errors.push(error(
                "quantity",
                "The quantity can't be negative.",
                "INVALID_QUANTITY_NEGATIVE",
            ));
            continue;
        }
        if quantity > MAX_QUANTITY {
            errors.push(error(
                "quantity",
                "The quantity can't be higher than 1,000,000,000.",
                "INVALID_QUANTITY_TOO_HIGH",
            ));
            continue;
        }
        if sets.iter().any(|(seen, _)| *seen == item) {
            errors.push(error(
                "inventoryItemId",
                "The combination of inventoryItemId and locationId must be unique.",
                "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR",
            ));
            continue;
        }
        if !ignore_compare {
            match q.get("compareQuantity").and_then(Json::as_i64) {
                None => {
                    errors.push(error(
                        "compareQuantity",
                        "The compareQuantity argument must be given to each quantity or ignored using ignoreCompareQuantity.",
                        "COMPARE_QUANTITY_REQUIRED",
                    ));
                    continue;
                }
                Some(expected) if expected != ctx.shop.product(item).stock => {
                    errors.push(error(
                        "compareQuantity",
                        "The compareQuantity value does not match the current quantity.",
                        "COMPARE_QUANTITY_STALE",
                    ));
                    continue;
                }
                Some(_) => {}
            }
        }
        sets.push((item, quantity));
    }
    if !errors.is_empty() {
        return payload(Out::Null, errors);
    }
    let mut changes = Vec::new();
    for (item, quantity) in sets {
        let before = ctx.shop.product(item).stock;
        ctx.shop.set_stock(item, quantity);
        ctx.changed.push(item);
        let product = Box::new(ctx.shop.product(item));
        // The shop keeps one number for stock: `available` and `on_hand` move together.
        for quantity_name in ["available", "on_hand"] {
            changes.push(Obj::Bag {
                type_name: "InventoryChange",
                fields: vec![
                    ("name", Out::Leaf(json!(quantity_name))),
                    ("delta", Out::Leaf(json!(quantity - before))),
                    ("quantityAfterChange", Out::Leaf(json!(quantity))),
                    ("ledgerDocumentUri", Out::Null),
                    ("item", Out::Object(Obj::InventoryItem(product.clone()))),
                    ("location", Out::Object(Obj::Location)),
                ],
            });
        }
    }
    let now = Utc::now();
    let group = Obj::Bag {
        type_name: "InventoryAdjustmentGroup",
        fields: vec![
            (
                "id",
                Out::Leaf(json!(gid(
                    "InventoryAdjustmentGroup",
                    now.timestamp_micros()
                ))),
            ),
            ("createdAt", Out::Leaf(super::resolve::time(now))),
            ("reason", Out::Leaf(json!(reason))),
            (
                "referenceDocumentUri",
                Out::Leaf(
                    input
                        .get("referenceDocumentUri")
                        .cloned()
                        .unwrap_or(Json::Null),
                ),
            ),
            ("changes", Out::List(changes)),
        ],
    };
    payload(Out::Object(group), Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_input_parses_strictly() {
        assert_eq!(cents(&json!("19.99")), Some(1999));
        assert_eq!(cents(&json!("20")), Some(2000));
        assert_eq!(cents(&json!("0.5")), Some(50));
        assert_eq!(cents(&json!(12.5)), Some(1250));
        assert_eq!(cents(&json!("-1.00")), Some(-100));
        for bad in [
            json!("abc"),
            json!("1.999"),
            json!(""),
            json!("1,99"),
            json!(null),
        ] {
            assert_eq!(cents(&bad), None, "{bad}");
        }
    }
}
