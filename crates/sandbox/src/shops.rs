//! The mutable part of each tenant's shop: what pushes changed. Everything else comes from
//! the seeded [`Catalogue`].

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

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
pub struct Shop {
    pub catalogue: Catalogue,
    changes: Mutex<HashMap<usize, Change>>,
    /// The vendor module's own state (Shopify's cost bucket and webhook subscriptions, ...).
    extra: Mutex<Option<Box<dyn Any + Send>>>,
}

impl std::fmt::Debug for Shop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shop")
            .field("catalogue", &self.catalogue)
            .finish_non_exhaustive()
    }
}

impl Shop {
    fn new(catalogue: Catalogue) -> Self {
        Shop {
            catalogue,
            changes: Mutex::default(),
            extra: Mutex::default(),
        }
    }

    /// Runs `f` on the vendor state of type `T` (made on first use), holding the shop's
    /// lock throughout, so a check and its update are one step.
    pub fn with_extra<T: Default + Send + 'static, R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let mut slot = self.extra.lock().unwrap_or_else(PoisonError::into_inner);
        let state = slot.get_or_insert_with(|| Box::new(T::default()));
        if !state.is::<T>() {
            *state = Box::new(T::default());
        }
        f(state.downcast_mut::<T>().expect("the slot holds a T"))
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
