//! The mutable part of each tenant's shop: what pushes changed. Everything else comes from
//! the seeded [`Catalogue`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use crate::catalogue::{Catalogue, SeedProduct};
use crate::faults::Vendor;

/// A product as the shop holds it now: the seed plus pushed changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Product {
    pub seed: SeedProduct,
    pub price_cents: i64,
    pub stock: i64,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Change {
    price_cents: Option<i64>,
    stock: Option<i64>,
    at: Option<DateTime<Utc>>,
}

/// One tenant's shop at one vendor.
#[derive(Debug)]
pub struct Shop {
    pub catalogue: Catalogue,
    changes: Mutex<HashMap<usize, Change>>,
    /// Vendor-specific state (Shopify's webhook subscriptions, ...), as JSON.
    pub extra: Mutex<serde_json::Value>,
}

impl Shop {
    fn new(catalogue: Catalogue) -> Self {
        Shop {
            catalogue,
            changes: Mutex::default(),
            extra: Mutex::new(serde_json::json!({})),
        }
    }

    /// The product at `index` with every pushed change applied.
    pub fn product(&self, index: usize) -> Product {
        let seed = self.catalogue.product(index);
        let change = self
            .changes
            .lock()
            .expect("not poisoned")
            .get(&index)
            .copied()
            .unwrap_or_default();
        Product {
            price_cents: change.price_cents.unwrap_or(seed.price_cents),
            stock: change.stock.unwrap_or(seed.stock),
            updated_at: change.at.unwrap_or(seed.updated_at),
            seed,
        }
    }

    /// The index of the product with this SKU (`SM-cc-nnnnnn`, n = index + 1).
    pub fn index_of_sku(&self, sku: &str) -> Option<usize> {
        let number: usize = sku.rsplit('-').next()?.parse().ok()?;
        let index = number.checked_sub(1)?;
        (index < self.catalogue.products() && self.catalogue.product(index).sku == sku)
            .then_some(index)
    }

    pub fn set_price(&self, index: usize, price_cents: i64) {
        let mut changes = self.changes.lock().expect("not poisoned");
        let change = changes.entry(index).or_default();
        change.price_cents = Some(price_cents);
        change.at = Some(Utc::now());
    }

    pub fn set_stock(&self, index: usize, stock: i64) {
        let mut changes = self.changes.lock().expect("not poisoned");
        let change = changes.entry(index).or_default();
        change.stock = Some(stock);
        change.at = Some(Utc::now());
    }
}

/// Every tenant's shops, made on first use.
#[derive(Debug, Default)]
pub struct Shops {
    shops: Mutex<HashMap<(Vendor, String), Arc<Shop>>>,
}

impl Shops {
    pub fn get_or_create(
        &self,
        vendor: Vendor,
        tenant: &str,
        make: impl FnOnce() -> Catalogue,
    ) -> Arc<Shop> {
        self.shops
            .lock()
            .expect("not poisoned")
            .entry((vendor, tenant.to_owned()))
            .or_insert_with(|| Arc::new(Shop::new(make())))
            .clone()
    }
}
