//! `/orders`, `/orders/{id_order}` and `/order-units`: the order book, one order unit per
//! item sold (an order line of three is three order units).

use axum::extract::{Path, State};
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use super::auth::Signed;
use super::params::{paging, STOREFRONT};
use super::problem::Problem;
use super::units::{product_json, reduced_vat};
use super::{iso, shop};
use crate::catalogue::{SeedCustomer, SeedOrder, SeedOrderStatus};
use crate::shops::Shop;
use crate::Sandbox;

/// `id_order_unit` = this + order index × 100 + the unit's place in the order.
const ORDER_UNIT_ID_BASE: i64 = 310_000_000_000_000;
const BUYER_ID_BASE: i64 = 20_000_000;
/// Kaufland keeps this share of the gross price as its commission.
const COMMISSION_PERCENT: i64 = 15;

/// Kaufland's order ids are seven characters (`MB7UWLD`); the sandbox's are `S` and the
/// order's index in base 36.
pub fn id_order(index: usize) -> String {
    const DIGITS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut n = index;
    let mut digits = [b'0'; 6];
    for slot in digits.iter_mut().rev() {
        *slot = DIGITS[n % 36];
        n /= 36;
    }
    format!("S{}", String::from_utf8_lossy(&digits))
}

fn index_of_order(shop: &Shop, id: &str) -> Option<usize> {
    let digits = id.strip_prefix('S').filter(|d| d.len() == 6)?;
    let index = usize::from_str_radix(digits, 36).ok()?;
    (index < shop.order_count() && id_order(index) == id).then_some(index)
}

fn status(status: SeedOrderStatus) -> &'static str {
    match status {
        SeedOrderStatus::Pending => "open",
        SeedOrderStatus::Paid => "need_to_be_sent",
        SeedOrderStatus::Shipped => "sent",
        SeedOrderStatus::Delivered => "received",
        SeedOrderStatus::Cancelled => "cancelled",
        SeedOrderStatus::Refunded => "returned",
    }
}

fn address(customer: &SeedCustomer) -> Value {
    // The seed's street ends with the house number.
    let (street, number) = customer
        .street
        .rsplit_once(' ')
        .unwrap_or((customer.street.as_str(), ""));
    json!({
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "company_name": null,
        "street": street,
        "house_number": number,
        "postcode": customer.postal_code,
        "additional_field": null,
        "city": customer.city,
        "phone": null,
        "country": "DE",
    })
}

fn buyer(order: &SeedOrder) -> Value {
    json!({"id_buyer": BUYER_ID_BASE + order.index as i64, "email": order.customer.email})
}

/// The order's units: (id_order_unit, product index, price in cents).
fn units_of(order: &SeedOrder) -> Vec<(i64, usize, i64)> {
    order
        .lines
        .iter()
        .flat_map(|line| {
            std::iter::repeat_n(
                (line.product_index, line.unit_price_cents),
                line.quantity as usize,
            )
        })
        .enumerate()
        .map(|(k, (product, price))| {
            (
                ORDER_UNIT_ID_BASE + order.index as i64 * 100 + k as i64,
                product,
                price,
            )
        })
        .collect()
}

/// The properties an order unit has both in `/order-units` and inside `/orders/{id}`.
fn order_unit(shop: &Shop, order: &SeedOrder, unit: (i64, usize, i64), origin: &str) -> Value {
    let (id, product_index, price) = unit;
    let product = shop.catalogue.product(product_index);
    let vat = if reduced_vat(&product) { 7 } else { 19 };
    let revenue_gross = price * (100 - COMMISSION_PERCENT) / 100;
    let unit_status = status(order.status);
    json!({
        "id_order_unit": id,
        "id_order": id_order(order.index),
        "ts_created_iso": iso(order.placed_at),
        "is_marketplace_deemed_supplier": false,
        "ts_updated_iso": iso(order.updated_at),
        "status": unit_status,
        "price": price,
        "id_offer": product.sku,
        "revenue_gross": revenue_gross,
        "revenue_net": revenue_gross * 100 / (100 + vat),
        "note": null,
        "unit_condition": "new",
        "storefront": STOREFRONT,
        "currency": "EUR",
        "delivery_time_min": 1,
        "delivery_time_max": 3,
        "delivery_time_expires_iso": iso(order.placed_at + Duration::days(3)),
        "order_received_timestamp_iso": iso(order.placed_at),
        "shipping_rate": 0,
        "cancel_reason": (unit_status == "cancelled").then_some("BuyerCancelled"),
        "product": product_json(&product, origin),
        "vat": vat,
    })
}

fn since(request: &Signed, name: &str) -> Result<Option<i64>, Problem> {
    Ok(request.params.time(name)?.map(|t| t.timestamp()))
}

fn at_or_after(t: DateTime<Utc>, since: Option<i64>) -> bool {
    since.is_none_or(|s| t.timestamp() >= s)
}

/// `GET /orders?storefront&ts_created_from_iso&ts_units_updated_from_iso&limit&offset`,
/// the least recently changed first, so an order changing while a client pages moves
/// behind it instead of out from under it.
pub async fn list(State(sandbox): State<Sandbox>, request: Signed) -> Result<Json<Value>, Problem> {
    request.params.storefront(false)?;
    let created = since(&request, "ts_created_from_iso")?;
    let updated = since(&request, "ts_units_updated_from_iso")?;
    let (offset, limit) = paging(&request.params, 1)?;
    let shop = shop(&sandbox, &request);
    let mut orders: Vec<SeedOrder> = (0..shop.order_count())
        .filter_map(|i| shop.order(i))
        .filter(|o| at_or_after(o.placed_at, created) && at_or_after(o.updated_at, updated))
        .collect();
    orders.sort_by_key(|o| (o.updated_at.timestamp(), o.index));
    let data: Vec<Value> = orders
        .iter()
        .skip(offset)
        .take(limit)
        .map(|o| {
            json!({
                "id_order": id_order(o.index),
                "ts_created_iso": iso(o.placed_at),
                "is_marketplace_deemed_supplier": false,
                "order_units_count": units_of(o).len(),
                "ts_units_updated_iso": iso(o.updated_at),
                "storefront": STOREFRONT,
                "fulfillment_type": "fulfilled_by_merchant",
            })
        })
        .collect();
    Ok(Json(json!({
        "data": data,
        "pagination": {"offset": offset, "limit": limit, "total": orders.len()},
    })))
}

/// `GET /orders/{id_order}`: the order with its units, buyer and addresses.
pub async fn one(
    State(sandbox): State<Sandbox>,
    Path(id): Path<String>,
    request: Signed,
) -> Result<Json<Value>, Problem> {
    let shop = shop(&sandbox, &request);
    let order = index_of_order(&shop, &id)
        .and_then(|index| shop.order(index))
        .ok_or_else(|| Problem::not_found("Order not found"))?;
    let units: Vec<Value> = units_of(&order)
        .into_iter()
        .map(|unit| {
            let mut value = order_unit(&shop, &order, unit, &request.origin);
            value["tickets"] = Value::Null;
            value
        })
        .collect();
    Ok(Json(json!({"data": {
        "id_order": id,
        "ts_created_iso": iso(order.placed_at),
        "is_marketplace_deemed_supplier": false,
        "storefront": STOREFRONT,
        "fulfillment_type": "fulfilled_by_merchant",
        "order_units": units,
        "billing_address": address(&order.customer),
        "shipping_address": address(&order.customer),
        "buyer": buyer(&order),
    }})))
}

/// `GET /order-units?storefront&id_offer&status&ts_created_from_iso&ts_updated_from_iso
/// &sort&limit&offset`, newest first as Kaufland sorts them.
pub async fn units(
    State(sandbox): State<Sandbox>,
    request: Signed,
) -> Result<Json<Value>, Problem> {
    let params = &request.params;
    params.storefront(false)?;
    let created = since(&request, "ts_created_from_iso")?;
    let updated = since(&request, "ts_updated_from_iso")?;
    let statuses = params.all("status");
    let by_update = match params.one("sort").unwrap_or("ts_created:desc") {
        "ts_created:desc" => false,
        "ts_updated:desc" => true,
        _ => {
            return Err(Problem::invalid(
                "sort",
                "must be ts_created:desc or ts_updated:desc",
            ))
        }
    };
    let (offset, limit) = paging(params, 1)?;
    let shop = shop(&sandbox, &request);
    let mut orders: Vec<SeedOrder> = (0..shop.order_count())
        .filter_map(|i| shop.order(i))
        .filter(|o| at_or_after(o.placed_at, created) && at_or_after(o.updated_at, updated))
        .filter(|o| statuses.is_empty() || statuses.contains(&status(o.status)))
        .collect();
    if by_update {
        orders.sort_by_key(|o| std::cmp::Reverse((o.updated_at.timestamp(), o.index)));
    } else {
        orders.reverse();
    }
    let offer = params.one("id_offer");
    let all: Vec<(&SeedOrder, (i64, usize, i64))> = orders
        .iter()
        .flat_map(|o| units_of(o).into_iter().map(move |u| (o, u)))
        .filter(|(_, (_, product, _))| {
            offer.is_none_or(|sku| shop.catalogue.product(*product).sku == sku)
        })
        .collect();
    let data: Vec<Value> = all
        .iter()
        .skip(offset)
        .take(limit)
        .map(|&(order, unit)| standalone_unit(&shop, order, unit, &request.origin))
        .collect();
    Ok(Json(json!({
        "data": data,
        "pagination": {"offset": offset, "limit": limit, "total": all.len()},
    })))
}

/// `GET /order-units/{id_order_unit}`: one order unit with its buyer and addresses.
pub async fn unit(
    State(sandbox): State<Sandbox>,
    Path(id): Path<String>,
    request: Signed,
) -> Result<Json<Value>, Problem> {
    let shop = shop(&sandbox, &request);
    let not_found = || Problem::not_found("Order unit not found");
    let number = id
        .parse::<i64>()
        .ok()
        .and_then(|n| n.checked_sub(ORDER_UNIT_ID_BASE))
        .filter(|n| *n >= 0)
        .ok_or_else(not_found)?;
    let order = usize::try_from(number / 100)
        .ok()
        .and_then(|index| shop.order(index))
        .ok_or_else(not_found)?;
    let unit = units_of(&order)
        .into_iter()
        .find(|(unit_id, ..)| unit_id.to_string() == id)
        .ok_or_else(not_found)?;
    Ok(Json(json!({
        "data": standalone_unit(&shop, &order, unit, &request.origin)
    })))
}

/// An order unit as `/order-units` shows it: with the order's buyer and addresses.
fn standalone_unit(shop: &Shop, order: &SeedOrder, unit: (i64, usize, i64), origin: &str) -> Value {
    let mut value = order_unit(shop, order, unit, origin);
    value["fulfillment_type"] = json!("fulfilled_by_merchant");
    value["buyer"] = buyer(order);
    value["billing_address"] = address(&order.customer);
    value["shipping_address"] = address(&order.customer);
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_ids_read_back() {
        assert_eq!(id_order(0), "S000000");
        assert_eq!(id_order(36 * 36 + 35), "S00010Z");
        assert_eq!(
            usize::from_str_radix(&id_order(99_999)[1..], 36).unwrap(),
            99_999
        );
    }
}
