//! The mutable part of each tenant's shop: what pushes changed. Everything else comes from
//! the seeded [`Catalogue`].

use std::any::Any;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};

use crate::catalogue::{Catalogue, SeedLine, SeedOrder, SeedOrderStatus, SeedProduct};
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

/// Orders placed after the shop was seeded, and status changes of any order.
#[derive(Debug, Default)]
struct Book {
    placed: Vec<SeedOrder>,
    statuses: HashMap<usize, (SeedOrderStatus, DateTime<Utc>)>,
}

/// Most units one placed order buys (Kaufland numbers an order's units below 100).
pub const MAX_ORDER_QUANTITY: i64 = 100;

/// Why [`Shop::place_order`] sold nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderRefused {
    UnknownSku,
    /// Quantities run from 1 to [`MAX_ORDER_QUANTITY`].
    Quantity,
    /// The shop has fewer units than ordered (it does not oversell).
    NotEnoughStock {
        stock: i64,
    },
}

impl std::fmt::Display for OrderRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OrderRefused::UnknownSku => f.write_str("The shop has no product with this SKU."),
            OrderRefused::Quantity => write!(
                f,
                "The quantity must be between 1 and {MAX_ORDER_QUANTITY}."
            ),
            OrderRefused::NotEnoughStock { stock } => {
                write!(f, "Only {stock} units are in stock.")
            }
        }
    }
}

/// One tenant's shop at one vendor.
pub struct Shop {
    pub catalogue: Catalogue,
    changes: Mutex<HashMap<usize, Change>>,
    book: Mutex<Book>,
    removed: Mutex<BTreeSet<usize>>,
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
            book: Mutex::default(),
            removed: Mutex::default(),
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

    /// Deletes the product at `index` at the vendor (a test's way to shrink the catalogue):
    /// listings leave it out from now on.
    pub fn remove(&self, index: usize) {
        self.removed.lock().expect("not poisoned").insert(index);
    }

    /// The indices [`Shop::remove`] deleted (usually none: one cheap copy per listing).
    pub fn removed(&self) -> BTreeSet<usize> {
        self.removed.lock().expect("not poisoned").clone()
    }

    pub fn set_stock(&self, index: usize, stock: i64) {
        let mut changes = self.changes.lock().expect("not poisoned");
        let change = changes.entry(index).or_default();
        change.stock = Some(stock);
        change.at = Some(Utc::now());
    }
}

impl Shop {
    /// How many orders the shop has: the seeded ones, then the placed ones.
    pub fn order_count(&self) -> usize {
        self.catalogue.orders() + self.book.lock().expect("not poisoned").placed.len()
    }

    /// The order at `index` (< [`Shop::order_count`]) as it is now.
    pub fn order(&self, index: usize) -> Option<SeedOrder> {
        let (placed, changed) = {
            let book = self.book.lock().expect("not poisoned");
            let placed = match index.checked_sub(self.catalogue.orders()) {
                None => None,
                Some(placed) => Some(book.placed.get(placed)?.clone()),
            };
            (placed, book.statuses.get(&index).copied())
        };
        // A seeded order is computed outside the lock: listings read thousands.
        let mut order = placed.unwrap_or_else(|| self.catalogue.order(index));
        if let Some((status, at)) = changed {
            order.status = status;
            order.updated_at = at;
        }
        Some(order)
    }

    /// A buyer orders `quantity` units of `sku` now: the stock drops by as many, and every
    /// vendor's order listing shows a paid order after the seeded ones.
    pub fn place_order(&self, sku: &str, quantity: i64) -> Result<SeedOrder, OrderRefused> {
        let index = self.index_of_sku(sku).ok_or(OrderRefused::UnknownSku)?;
        if !(1..=MAX_ORDER_QUANTITY).contains(&quantity) {
            return Err(OrderRefused::Quantity);
        }
        let product = self.product(index);
        let mut changes = self.changes.lock().expect("not poisoned");
        let change = changes.entry(index).or_default();
        let stock = change.stock.unwrap_or(product.stock);
        if stock < quantity {
            return Err(OrderRefused::NotEnoughStock { stock });
        }
        let now = Utc::now();
        change.stock = Some(stock - quantity);
        change.at = Some(now);
        let mut book = self.book.lock().expect("not poisoned");
        let number = self.catalogue.orders() + book.placed.len();
        // The buyer the seed has for this number; what, when and how much are this sale's.
        let order = SeedOrder {
            placed_at: now,
            updated_at: now,
            status: SeedOrderStatus::Paid,
            lines: vec![SeedLine {
                product_index: index,
                quantity,
                unit_price_cents: product.price_cents,
            }],
            ..self.catalogue.order(number)
        };
        book.placed.push(order.clone());
        Ok(order)
    }

    /// The order at `index` changes to `status` now (shipped, cancelled, refunded, ...);
    /// `false` when there is no such order.
    pub fn set_order_status(&self, index: usize, status: SeedOrderStatus) -> bool {
        if index >= self.order_count() {
            return false;
        }
        let mut book = self.book.lock().expect("not poisoned");
        book.statuses.insert(index, (status, Utc::now()));
        true
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
