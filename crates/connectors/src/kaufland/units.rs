//! Units (Kaufland's offers): reading them as products, patching price and stock.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::api::Pagination;
use crate::{ChannelProduct, ListingUpdate, Money, Rejection};

/// `GET /units` with `embedded=products`.
#[derive(Debug, Deserialize)]
pub(super) struct UnitsPage {
    pub data: Vec<Unit>,
    pub pagination: Option<Pagination>,
}

/// What this client reads of a unit (Kaufland sends more).
#[derive(Debug, Deserialize)]
pub(super) struct Unit {
    id_unit: u64,
    id_offer: Option<String>,
    id_product: Option<u64>,
    status: String,
    listing_price: Option<i64>,
    price: Option<i64>,
    amount: Option<i64>,
    currency: String,
    date_lastchange_iso: Option<DateTime<Utc>>,
    product: Option<Product>,
}

#[derive(Debug, Deserialize)]
struct Product {
    #[serde(default)]
    title: String,
    #[serde(default)]
    eans: Vec<String>,
    main_picture: Option<String>,
}

impl Unit {
    pub(super) fn into_product(self) -> ChannelProduct {
        let product = self.product;
        // The listing price is what a push sets; `price` (after Smart Pricing) only if absent.
        let price = self.listing_price.or(self.price).map(|cents| Money {
            cents,
            currency: self.currency.clone(),
        });
        ChannelProduct {
            external_id: self.id_unit.to_string(),
            parent_id: self.id_product.map(|id| id.to_string()),
            inventory_id: None,
            sku: self.id_offer.unwrap_or_default(),
            title: product
                .as_ref()
                .map(|p| p.title.clone())
                .unwrap_or_default(),
            description: String::new(),
            ean: product.as_ref().and_then(|p| preferred_ean(&p.eans)),
            price,
            quantity: self.amount,
            images: product
                .and_then(|p| p.main_picture)
                .filter(|url| !url.is_empty())
                .into_iter()
                .collect(),
            active: self.status == "AVAILABLE",
            updated_at: self.date_lastchange_iso,
        }
    }
}

/// A product's EANs may include the same number as UPC or GTIN-14; prefer the EAN-13.
fn preferred_ean(eans: &[String]) -> Option<String> {
    eans.iter()
        .find(|e| e.len() == 13)
        .or_else(|| eans.first())
        .cloned()
}

/// The body of `PATCH /units/{id_unit}`.
#[derive(Debug, Serialize)]
pub(super) struct UnitPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    listing_price: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    amount: Option<i64>,
}

impl UnitPatch {
    /// The patch for an update, or why it cannot be sent: the unit id must be Kaufland's
    /// numeric `id_unit` and the price in the storefront's currency.
    pub(super) fn of(
        update: &ListingUpdate,
        currency: &str,
    ) -> Result<(u64, Option<Self>), Rejection> {
        let id_unit = update
            .external_id
            .parse::<u64>()
            .ok()
            .filter(|id| *id > 0)
            .ok_or_else(|| Rejection {
                code: "invalid_unit_id".to_owned(),
                message: format!("{:?} is not a Kaufland unit id", update.external_id),
            })?;
        if let Some(price) = update.price.as_ref().filter(|p| p.currency != currency) {
            return Err(Rejection {
                code: "currency_mismatch".to_owned(),
                message: format!(
                    "the storefront sells in {currency}, the price is in {}",
                    price.currency
                ),
            });
        }
        let patch = UnitPatch {
            listing_price: update.price.as_ref().map(|p| p.cents),
            amount: update.quantity,
        };
        let empty = patch.listing_price.is_none() && patch.amount.is_none();
        Ok((id_unit, (!empty).then_some(patch)))
    }
}

/// The currency a storefront sells in.
pub(super) fn currency_of(storefront: &str) -> &'static str {
    match storefront {
        "cz" => "CZK",
        "pl" => "PLN",
        _ => "EUR",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_map_to_products() {
        let unit: Unit = serde_json::from_value(serde_json::json!({
            "id_unit": 42, "id_offer": "SM-01-000007", "id_product": 9, "status": "AVAILABLE",
            "listing_price": 1999, "price": 1899, "amount": 5, "currency": "EUR",
            "date_lastchange_iso": "2025-01-02T03:04:05Z", "note": null,
            "product": {"title": "Topf", "eans": ["04006381333931", "4006381333931"],
                        "main_picture": "https://img/1.jpg"}
        }))
        .unwrap();
        let p = unit.into_product();
        assert_eq!(p.external_id, "42");
        assert_eq!(p.sku, "SM-01-000007");
        assert_eq!(p.ean.as_deref(), Some("4006381333931"));
        assert_eq!(
            p.price,
            Some(Money {
                cents: 1999,
                currency: "EUR".into()
            })
        );
        assert_eq!(p.quantity, Some(5));
        assert!(p.active);
        assert_eq!(p.images, vec!["https://img/1.jpg".to_owned()]);
    }

    #[test]
    fn patches_check_the_id_and_currency() {
        let update = |id: &str, currency: &str| ListingUpdate {
            external_id: id.into(),
            parent_id: None,
            inventory_id: None,
            sku: "S".into(),
            price: Some(Money {
                cents: 500,
                currency: currency.into(),
            }),
            quantity: Some(3),
            expected_quantity: None,
        };
        let (id, patch) = UnitPatch::of(&update("17", "EUR"), "EUR").unwrap();
        assert_eq!(id, 17);
        assert_eq!(
            serde_json::to_value(patch.unwrap()).unwrap(),
            serde_json::json!({"listing_price": 500, "amount": 3})
        );
        assert_eq!(
            UnitPatch::of(&update("x", "EUR"), "EUR").unwrap_err().code,
            "invalid_unit_id"
        );
        assert_eq!(
            UnitPatch::of(&update("17", "PLN"), "EUR").unwrap_err().code,
            "currency_mismatch"
        );
    }
}
