//! Orders: `GET /orders` names the orders whose units changed, `GET /orders/{id_order}`
//! gives each whole, with its order units (one per item sold) as lines.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::{ChannelOrder, OrderLine, OrderStatus};

/// `GET /orders`: only ids and counters, no units.
#[derive(Debug, Deserialize)]
pub(super) struct OrdersPage {
    pub data: Vec<OrderRef>,
    pub pagination: Option<super::api::Pagination>,
}

#[derive(Debug, Deserialize)]
pub(super) struct OrderRef {
    pub id_order: String,
}

/// `GET /orders/{id_order}`.
#[derive(Debug, Deserialize)]
pub(super) struct OrderAnswer {
    pub data: OrderDetails,
}

#[derive(Debug, Deserialize)]
pub(super) struct OrderDetails {
    id_order: String,
    ts_created_iso: DateTime<Utc>,
    order_units: Vec<OrderUnit>,
    buyer: Option<Buyer>,
    billing_address: Option<Address>,
    shipping_address: Option<Address>,
}

#[derive(Debug, Deserialize)]
struct OrderUnit {
    id_order_unit: i64,
    status: String,
    /// What the buyer paid for the item, in cents.
    price: i64,
    shipping_rate: Option<i64>,
    currency: String,
    id_offer: Option<String>,
    ts_updated_iso: DateTime<Utc>,
    product: Option<Product>,
}

#[derive(Debug, Deserialize)]
struct Product {
    #[serde(default)]
    title: String,
}

#[derive(Debug, Deserialize)]
struct Buyer {
    email: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Address {
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    company_name: Option<String>,
}

impl Address {
    fn name(&self) -> String {
        let name = format!("{} {}", self.first_name.trim(), self.last_name.trim());
        match name.trim() {
            "" => self.company_name.clone().unwrap_or_default(),
            name => name.to_owned(),
        }
    }
}

impl OrderDetails {
    /// `currency` is the storefront's, for an order without units.
    pub(super) fn into_order(self, currency: &str) -> ChannelOrder {
        let status = order_status(self.order_units.iter().map(|u| u.status.as_str()));
        let updated_at = self
            .order_units
            .iter()
            .map(|u| u.ts_updated_iso)
            .max()
            .unwrap_or(self.ts_created_iso);
        let currency = self
            .order_units
            .first()
            .map_or(currency, |u| u.currency.as_str())
            .to_owned();
        let shipping: i64 = self
            .order_units
            .iter()
            .filter_map(|u| u.shipping_rate)
            .sum();
        let lines: Vec<OrderLine> = self
            .order_units
            .into_iter()
            .map(|u| OrderLine {
                external_id: Some(u.id_order_unit.to_string()),
                sku: u.id_offer.unwrap_or_default(),
                title: u.product.map(|p| p.title).unwrap_or_default(),
                quantity: 1,
                unit_price_cents: u.price,
                total_cents: u.price,
            })
            .collect();
        let customer_name = self
            .billing_address
            .as_ref()
            .or(self.shipping_address.as_ref())
            .map(Address::name)
            .unwrap_or_default();
        ChannelOrder {
            order_number: self.id_order.clone(),
            external_id: self.id_order,
            status,
            currency,
            total_cents: lines.iter().map(|l| l.total_cents).sum::<i64>() + shipping,
            customer_name,
            customer_email: self.buyer.and_then(|b| b.email).unwrap_or_default(),
            placed_at: self.ts_created_iso,
            updated_at,
            lines,
        }
    }
}

/// An order's status from its units': the least advanced of the units still live; an
/// order whose every unit is gone is refunded if any came back, else cancelled.
fn order_status<'a>(units: impl Iterator<Item = &'a str>) -> OrderStatus {
    let mut live: Option<(u8, OrderStatus)> = None;
    let (mut returned, mut cancelled) = (false, false);
    for status in units {
        let step = match status {
            "open" => (0, OrderStatus::Pending),
            "need_to_be_sent" => (1, OrderStatus::Paid),
            "sent" | "sent_and_autopaid" => (2, OrderStatus::Shipped),
            "received" => (3, OrderStatus::Delivered),
            "returned" | "returned_paid" => {
                returned = true;
                continue;
            }
            "cancelled" => {
                cancelled = true;
                continue;
            }
            // A status this client does not know yet says nothing it could act on.
            _ => continue,
        };
        if live.is_none_or(|(rank, _)| step.0 < rank) {
            live = Some(step);
        }
    }
    match (live, returned, cancelled) {
        (Some((_, status)), _, _) => status,
        (None, true, _) => OrderStatus::Refunded,
        (None, false, true) => OrderStatus::Cancelled,
        (None, false, false) => OrderStatus::Pending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_statuses_map_to_order_statuses() {
        let of = |s: &[&str]| order_status(s.iter().copied());
        assert_eq!(of(&["need_to_be_sent"]), OrderStatus::Paid);
        assert_eq!(of(&["sent"]), OrderStatus::Shipped);
        assert_eq!(of(&["received"]), OrderStatus::Delivered);
        assert_eq!(of(&["cancelled"]), OrderStatus::Cancelled);
        assert_eq!(of(&["returned"]), OrderStatus::Refunded);
        assert_eq!(of(&["open"]), OrderStatus::Pending);
        assert_eq!(of(&["received", "sent", "cancelled"]), OrderStatus::Shipped);
        assert_eq!(of(&["cancelled", "returned"]), OrderStatus::Refunded);
    }

    #[test]
    fn an_order_sums_its_units_and_shipping() {
        let details: OrderAnswer = serde_json::from_value(serde_json::json!({"data": {
            "id_order": "MB7UWLD", "ts_created_iso": "2025-01-02T03:04:05Z",
            "is_marketplace_deemed_supplier": false, "storefront": "de",
            "fulfillment_type": "fulfilled_by_merchant",
            "buyer": {"id_buyer": 1, "email": "a@b.de"},
            "billing_address": {"first_name": "Anna", "last_name": "Müller", "company_name": null},
            "shipping_address": null,
            "order_units": [
                {"id_order_unit": 1, "status": "sent", "price": 1000, "shipping_rate": 395,
                 "currency": "EUR", "id_offer": "A", "ts_updated_iso": "2025-01-03T00:00:00Z",
                 "product": {"title": "Topf"}},
                {"id_order_unit": 2, "status": "need_to_be_sent", "price": 500, "shipping_rate": 0,
                 "currency": "EUR", "id_offer": "B", "ts_updated_iso": "2025-01-04T00:00:00Z",
                 "product": null}
            ]
        }}))
        .unwrap();
        let order = details.data.into_order("EUR");
        assert_eq!(order.external_id, "MB7UWLD");
        assert_eq!(order.status, OrderStatus::Paid);
        assert_eq!(order.total_cents, 1895);
        assert_eq!(order.customer_name, "Anna Müller");
        assert_eq!(order.lines.len(), 2);
        assert_eq!(order.updated_at.to_rfc3339(), "2025-01-04T00:00:00+00:00");
    }
}
