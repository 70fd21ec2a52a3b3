//! The products phase: the channel's catalogue (full) or its changes since the last pass
//! (incremental) upserted by external id, page by page, under the conflict rules of
//! docs/ARCHITECTURE.md ("Pull, and the conflict rule"): content from the channel only
//! when the channel changed it, the cockpit's price while a local change is pending, the
//! cockpit's stock always; products gone from the channel marked removed, never deleted.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};
use sm_connectors::{Channel, ChannelProduct, Connector, Cursor, Page};
use uuid::Uuid;

use super::ledger::Entry;
use super::run::{PageDone, RunContext};
use super::text::clean;
use super::{Mode, SyncError};
use crate::db::product_sync::{self, Candidates, Known, Rows, Seen};

/// Most units one page asks for (the channel's own maximum is usually lower).
const MAX_PAGE_SIZE: usize = 250;
const MAX_SKU_CHARS: usize = 100;
const MAX_TITLE_CHARS: usize = 500;
/// The products table's bounds (0002_product_limits.sql).
const MAX_PRICE_CENTS: i64 = 10_000_000_000;
const MAX_STOCK: i64 = 1_000_000_000;
/// An incremental pass re-reads this much before the last pass: a channel's search index
/// lags its writes (Shopify's by up to minutes), so a product changed just before the last
/// pass may only now be listed as changed then. Re-reading a product changes nothing.
const PRODUCTS_OVERLAP_MINUTES: i64 = 5;

/// Runs this phase from `ctx.job.cursor` to its end, one committed page at a time; the
/// last [`RunContext::commit_page`] has `next: None` and moves the job to the next phase.
pub async fn run(ctx: &mut RunContext) -> Result<(), SyncError> {
    let (user_id, connection_id) = (ctx.job.user_id, ctx.job.connection_id);
    let pass_started = ctx.job.started_at.unwrap_or_else(Utc::now);
    let synced_at = {
        let mut db = ctx.state.db.acquire().await?;
        product_sync::products_synced_at(&mut db, user_id, connection_id).await?
    };
    // A connection never pulled is read whole, incremental or not (and so marks removals).
    let changed_since = match ctx.job.mode {
        Mode::Incremental => synced_at.map(|at| at - Duration::minutes(PRODUCTS_OVERLAP_MINUTES)),
        Mode::Full => None,
    };
    let page_size = ctx.channel.limits().max_page_size.min(MAX_PAGE_SIZE);
    let channel = Arc::clone(&ctx.channel);
    let pass = Pass {
        changed_since,
        pass_started,
    };
    let mut page = read_page(&channel, changed_since, ctx.job.cursor.clone(), page_size).await?;
    loop {
        // The next page is read while this one is written and committed: one page ahead
        // at most (the memory stays flat), no transaction open while the channel paces
        // its reads, and the cursor committed with a page is still its own `next`, so a
        // resumed job reads exactly the pages not committed. A page written is committed
        // even when the next read fails.
        let next = page.next.clone();
        let (stored, ahead) = tokio::join!(store_page(ctx, &pass, page), async {
            match next {
                Some(next) => {
                    Some(read_page(&channel, changed_since, Some(next.0), page_size).await)
                }
                None => None,
            }
        });
        stored?;
        match ahead {
            Some(next) => page = next?,
            None => return Ok(()),
        }
    }
}

/// What a pass is: incremental (changes since) or full, and when it started.
struct Pass {
    changed_since: Option<DateTime<Utc>>,
    pass_started: DateTime<Utc>,
}

/// Writes and commits one page with its cursor; the last page of a full pass also marks
/// the products it did not see as removed, and the last of any pass records the pass.
async fn store_page(
    ctx: &mut RunContext,
    pass: &Pass,
    page: Page<ChannelProduct>,
) -> Result<(), SyncError> {
    let (user_id, connection_id) = (ctx.job.user_id, ctx.job.connection_id);
    let mut tx = ctx.begin_pull_page().await?;
    let mut done = write_page(ctx, &mut tx, &page.items).await?;
    if page.next.is_none() {
        if pass.changed_since.is_none() {
            let removed =
                product_sync::mark_removed(&mut tx, user_id, connection_id, pass.pass_started)
                    .await?;
            done.ledger.extend(removed.into_iter().map(|r| {
                Entry::product("removed", Some(r.id), &r.sku, r.external_id.as_deref()).change(
                    "channel_state",
                    r.old_state,
                    "removed",
                )
            }));
        }
        product_sync::finish_pass(&mut tx, user_id, connection_id, pass.pass_started).await?;
    }
    done.next = page.next.map(|c| c.0);
    ctx.commit_page(tx, done).await
}

/// A page of the catalogue (`changed_since: None`) or of its changes, from `cursor`.
async fn read_page(
    channel: &Connector,
    changed_since: Option<DateTime<Utc>>,
    cursor: Option<String>,
    page_size: usize,
) -> Result<Page<ChannelProduct>, SyncError> {
    let cursor = cursor.map(Cursor);
    Ok(match changed_since {
        Some(since) => {
            channel
                .products_changed_page(since, cursor.as_ref(), page_size)
                .await?
        }
        None => channel.products_page(cursor.as_ref(), page_size).await?,
    })
}

/// Reads what the connection has for the page's units, decides, writes, and links the
/// order lines waiting for a new product; the ledger and counts go into the result.
async fn write_page(
    ctx: &RunContext,
    tx: &mut sqlx::PgConnection,
    items: &[ChannelProduct],
) -> Result<PageDone, SyncError> {
    let (user_id, connection_id) = (ctx.job.user_id, ctx.job.connection_id);
    let platform = ctx.platform.as_str();
    let units: Vec<Unit<'_>> = items.iter().map(|p| Unit::new(p, platform)).collect();
    // A unit with an id Postgres cannot hold is skipped by the plan, not queried.
    let external_ids: Vec<&str> = units
        .iter()
        .filter(|u| u.id_ok)
        .map(|u| u.product.external_id.as_str())
        .collect();
    let skus: Vec<&str> = units.iter().map(|u| u.sku.as_str()).collect();
    let locked = product_sync::lock(tx, user_id, connection_id, &external_ids, &skus).await?;
    let found = Candidates::new(locked, connection_id, &external_ids, &skus);
    let plan = plan(&units, &found.known, &found.stocks, ctx.stock_buffer);
    product_sync::insert(tx, user_id, connection_id, &plan.new).await?;
    product_sync::update(tx, user_id, &plan.existing).await?;
    product_sync::mark_seen(tx, user_id, &plan.seen).await?;
    let (new_ids, new_skus) = (&plan.new.id, &plan.new.sku);
    product_sync::link_order_lines(tx, user_id, connection_id, new_ids, new_skus).await?;
    Ok(PageDone {
        items: (plan.new.len() + plan.existing.len()) as i32,
        failed: plan.skipped,
        ledger: plan.ledger,
        ..PageDone::default()
    })
}

/// A channel unit in the cockpit's terms, its text without what Postgres refuses (NUL).
struct Unit<'a> {
    product: &'a ChannelProduct,
    /// Whether the channel's ids can be stored as they are (a non-empty id, no NUL): an id
    /// is never altered, the push must name the unit as the channel does.
    id_ok: bool,
    /// The channel's SKU, or `<platform>-<external id>` for a unit without one.
    sku: String,
    title: String,
    description: String,
    images: Vec<String>,
    /// SHA-256 of the content as the channel has it (see [`content_sha`]).
    sha: Vec<u8>,
    state: &'static str,
}

impl<'a> Unit<'a> {
    fn new(product: &'a ChannelProduct, platform: &str) -> Self {
        let storable = |id: &str| !id.contains('\0');
        let id_ok = !product.external_id.trim().is_empty()
            && storable(&product.external_id)
            && product.parent_id.as_deref().is_none_or(storable)
            && product.inventory_id.as_deref().is_none_or(storable);
        let sku = match clean(&product.sku, usize::MAX).trim() {
            "" => format!("{platform}-{}", clean(&product.external_id, usize::MAX)),
            sku => sku.to_owned(),
        };
        let sku = clean(&sku, MAX_SKU_CHARS);
        let title = match clean(&product.title, usize::MAX).trim() {
            "" => sku.clone(),
            title => clean(title, MAX_TITLE_CHARS),
        };
        Unit {
            sha: content_sha(&product.title, &product.description, &product.images),
            state: if product.active { "active" } else { "inactive" },
            description: clean(&product.description, usize::MAX),
            images: product
                .images
                .iter()
                .map(|url| clean(url, usize::MAX))
                .collect(),
            product,
            id_ok,
            sku,
            title,
        }
    }

    /// The channel's price, when it has one the cockpit can hold.
    fn price(&self) -> Result<Option<(i64, &str)>, &'static str> {
        match &self.product.price {
            None => Ok(None),
            Some(m)
                if (0..=MAX_PRICE_CENTS).contains(&m.cents)
                    && m.currency.len() == 3
                    && m.currency.bytes().all(|b| b.is_ascii_uppercase()) =>
            {
                Ok(Some((m.cents, m.currency.as_str())))
            }
            Some(_) => Err("invalid_price"),
        }
    }

    /// What the channel lists, within what a stock column holds.
    fn channel_stock(&self) -> Option<i32> {
        self.product
            .quantity
            .map(|q| q.clamp(i64::from(i32::MIN), MAX_STOCK) as i32)
    }

    fn images_json(&self) -> String {
        serde_json::Value::from(self.images.clone()).to_string()
    }
}

/// SHA-256 over title, description and images, each length-prefixed (so that no two
/// different contents hash alike by shifting text between fields).
pub fn content_sha(title: &str, description: &str, images: &[String]) -> Vec<u8> {
    let mut hash = Sha256::new();
    let mut field = |bytes: &[u8]| {
        hash.update((bytes.len() as u64).to_be_bytes());
        hash.update(bytes);
    };
    field(title.as_bytes());
    field(description.as_bytes());
    field(&(images.len() as u64).to_be_bytes());
    for image in images {
        field(image.as_bytes());
    }
    hash.finalize().to_vec()
}

/// What a page writes.
#[derive(Default)]
struct Plan {
    new: Rows,
    existing: Rows,
    /// Products of the connection whose unit was skipped: still live at the channel.
    seen: Seen,
    skipped: i32,
    ledger: Vec<Entry>,
}

/// Applies the conflict rules to the page's units against the connection's `known`
/// products and the merchant's `stocks` by SKU (outside the connection).
fn plan(units: &[Unit<'_>], known: &[Known], stocks: &[(String, i32)], buffer: i32) -> Plan {
    let by_external: HashMap<&str, &Known> = known
        .iter()
        .filter_map(|k| Some((k.external_id.as_deref()?, k)))
        .collect();
    let by_sku: HashMap<&str, &Known> = known.iter().map(|k| (k.sku.as_str(), k)).collect();
    let stocks: HashMap<&str, i32> = stocks.iter().map(|(s, n)| (s.as_str(), *n)).collect();
    let mut plan = Plan::default();
    // SKUs, rows and units this page already took: a second unit with one is a duplicate.
    let mut taken_skus: HashSet<&str> = HashSet::new();
    let mut taken_rows: HashSet<Uuid> = HashSet::new();
    let mut taken_units: HashSet<&str> = HashSet::new();
    for unit in units {
        let external_id = unit.product.external_id.as_str();
        if !unit.id_ok {
            plan.skip(
                unit,
                None,
                "invalid_id",
                "the channel's id of the unit is empty or holds a NUL character",
            );
            continue;
        }
        if !taken_units.insert(external_id) {
            plan.skip(
                unit,
                None,
                "duplicate_unit",
                "the channel listed this unit twice on one page",
            );
            continue;
        }
        let row = by_external.get(external_id).copied().or_else(|| {
            // A product made in the cockpit or by CSV for this connection is linked.
            by_sku
                .get(unit.sku.as_str())
                .copied()
                .filter(|k| k.external_id.is_none())
        });
        // Another product of the connection already has the SKU.
        let sku_elsewhere = by_sku
            .get(unit.sku.as_str())
            .is_some_and(|k| row.is_none_or(|r| r.id != k.id));
        if sku_elsewhere
            || taken_skus.contains(unit.sku.as_str())
            || row.is_some_and(|r| taken_rows.contains(&r.id))
        {
            plan.skip(
                unit,
                by_external.get(external_id).copied(),
                "duplicate_sku",
                "another unit of this channel has the SKU",
            );
            continue;
        }
        let price = match unit.price() {
            Ok(price) => price,
            Err(code) => {
                plan.skip(
                    unit,
                    by_external.get(external_id).copied(),
                    code,
                    "the price cannot be held (out of range or currency)",
                );
                continue;
            }
        };
        taken_skus.insert(unit.sku.as_str());
        match row {
            Some(row) => {
                taken_rows.insert(row.id);
                let joined = stocks.get(unit.sku.as_str()).copied();
                plan.update(unit, row, price, joined, buffer);
            }
            None => plan.create(unit, price, stocks.get(unit.sku.as_str()).copied()),
        }
    }
    plan
}

impl Plan {
    /// Skips `unit`; its product `row` (same external id), if any, is still seen.
    fn skip(&mut self, unit: &Unit<'_>, row: Option<&Known>, code: &str, message: &str) {
        if let Some(row) = row {
            self.seen.id.push(row.id);
            self.seen.channel_stock.push(unit.channel_stock());
            self.seen.channel_state.push(unit.state);
        }
        self.skipped += 1;
        self.ledger.push(
            Entry::product("skipped", None, &unit.sku, Some(&unit.product.external_id))
                .answer(code, message),
        );
    }

    /// A new product: the channel's values, the merchant's stock where it has the SKU
    /// elsewhere (then pending, so that the push lists it there too).
    fn create(&mut self, unit: &Unit<'_>, price: Option<(i64, &str)>, merchant_stock: Option<i32>) {
        let id = Uuid::now_v7();
        let channel_stock = unit.channel_stock();
        let (stock, pending) = match merchant_stock {
            Some(stock) => (stock, true),
            None => (channel_stock.unwrap_or(0).max(0), false),
        };
        let (cents, currency) = price.unwrap_or((0, "EUR"));
        let rows = &mut self.new;
        rows.id.push(id);
        rows.sku.push(unit.sku.clone());
        rows.title.push(unit.title.clone());
        rows.description.push(unit.description.clone());
        rows.images.push(unit.images_json());
        rows.price_cents.push(cents);
        rows.currency.push(currency.to_owned());
        rows.stock.push(stock);
        push_channel(rows, unit, price.map(|p| p.0), channel_stock, pending);
        self.ledger.push(
            Entry::product(
                "created",
                Some(id),
                &unit.sku,
                Some(&unit.product.external_id),
            )
            .change("price_cents", None::<i64>, cents)
            .change("stock", None::<i32>, stock),
        );
    }

    /// An existing product under the conflict rules.
    /// `joined`: the merchant's stock of the unit's SKU outside the connection, which a
    /// product renamed to that SKU takes (the one-stock trigger sets it).
    fn update(
        &mut self,
        unit: &Unit<'_>,
        row: &Known,
        price: Option<(i64, &str)>,
        joined: Option<i32>,
        buffer: i32,
    ) {
        let external_id = unit.product.external_id.as_str();
        let mut updated = Entry::product("updated", Some(row.id), &unit.sku, Some(external_id));
        let mut changed = false;
        if row.external_id.is_none() {
            updated = updated.change("external_id", None::<String>, external_id);
            changed = true;
        }
        let mut stock = row.stock;
        if row.sku != unit.sku {
            updated = updated.change("sku", row.sku.as_str(), unit.sku.as_str());
            changed = true;
            if let Some(joined) = joined.filter(|&n| n != row.stock) {
                updated = updated.change("stock", row.stock, joined);
                stock = joined;
            }
        }
        // Content: the channel's only when the channel changed it since the last sync.
        let (title, description, images) =
            if row.channel_content_sha.as_deref() != Some(unit.sha.as_slice()) {
                let description = &unit.description;
                let images = &unit.images;
                if row.title != unit.title {
                    updated = updated.change("title", row.title.as_str(), unit.title.as_str());
                    changed = true;
                }
                if &row.description != description {
                    updated = updated.change(
                        "description",
                        row.description.as_str(),
                        description.as_str(),
                    );
                    changed = true;
                }
                if &row.images != images {
                    updated = updated.change("images", row.images.clone(), images.clone());
                    changed = true;
                }
                (unit.title.clone(), description.clone(), unit.images_json())
            } else {
                let images = serde_json::Value::from(row.images.clone()).to_string();
                (row.title.clone(), row.description.clone(), images)
            };
        // Price: the cockpit's while a local price change is pending (the push sends it);
        // a pending stock change alone does not hold the channel's new price back.
        let local_price = row.has_local_changes && row.channel_price_cents != Some(row.price_cents);
        let mut cents = row.price_cents;
        let mut currency = None;
        match price {
            Some((channel, _)) if local_price && channel != row.price_cents => {
                self.ledger.push(
                    Entry::product("conflict", Some(row.id), &unit.sku, Some(external_id))
                        .change("price_cents", row.price_cents, channel)
                        .answer(
                            "local_change_pending",
                            "the channel has another price; the local one is kept and pushed",
                        ),
                );
            }
            Some((channel, channel_currency)) if !local_price => {
                if channel != row.price_cents {
                    updated = updated.change("price_cents", row.price_cents, channel);
                    changed = true;
                }
                cents = channel;
                currency = Some(channel_currency);
            }
            _ => {}
        }
        // Stock: the cockpit's, always. A channel listing more than the cockpit would is
        // lowered by the push; one listing fewer is left (it may be an unimported sale).
        let listed = (stock - buffer).max(0);
        let channel_stock = unit.channel_stock();
        let mut pending = row.has_local_changes || stock != row.stock;
        if let Some(channel) = channel_stock.filter(|&q| q != listed) {
            let more = channel > listed;
            pending |= more;
            self.ledger.push(
                Entry::product("conflict", Some(row.id), &unit.sku, Some(external_id))
                    .change("stock", listed, channel)
                    .answer(
                        "stock_differs",
                        if more {
                            "the channel lists more than the cockpit's stock; the push lowers it"
                        } else {
                            "the channel lists fewer than the cockpit's stock; left as it is"
                        },
                    ),
            );
        }
        if row
            .channel_state
            .as_deref()
            .is_some_and(|s| s != unit.state)
        {
            updated = updated.change("channel_state", row.channel_state.clone(), unit.state);
            changed = true;
        }
        if changed {
            self.ledger.push(updated);
        }
        let rows = &mut self.existing;
        rows.id.push(row.id);
        rows.sku.push(unit.sku.clone());
        rows.title.push(title);
        rows.description.push(description);
        rows.images.push(images);
        rows.price_cents.push(cents);
        rows.currency
            .push(currency.unwrap_or(row.currency.as_str()).to_owned());
        push_channel(rows, unit, price.map(|p| p.0), channel_stock, pending);
        rows.touched
            .push(changed || pending != row.has_local_changes);
    }
}

/// The columns that say what the channel has now.
fn push_channel(
    rows: &mut Rows,
    unit: &Unit<'_>,
    price: Option<i64>,
    stock: Option<i32>,
    pending: bool,
) {
    rows.external_id.push(unit.product.external_id.clone());
    rows.parent_external_id.push(unit.product.parent_id.clone());
    rows.inventory_external_id
        .push(unit.product.inventory_id.clone());
    rows.channel_price_cents.push(price);
    rows.channel_stock.push(stock);
    rows.channel_content_sha.push(unit.sha.clone());
    rows.channel_state.push(unit.state);
    rows.has_local_changes.push(pending);
}

#[cfg(test)]
mod tests {
    use super::*;
    use sm_connectors::Money;

    fn channel(external_id: &str, sku: &str, cents: i64, quantity: i64) -> ChannelProduct {
        ChannelProduct {
            external_id: external_id.to_owned(),
            parent_id: None,
            inventory_id: None,
            sku: sku.to_owned(),
            title: "Waldhonig".to_owned(),
            description: "<p>Honig</p>".to_owned(),
            ean: None,
            price: Some(Money {
                cents,
                currency: "EUR".to_owned(),
            }),
            quantity: Some(quantity),
            images: vec!["https://cdn/a.svg".to_owned()],
            active: true,
            updated_at: None,
        }
    }

    fn known(unit: &Unit<'_>, price_cents: i64, stock: i32, pending: bool) -> Known {
        Known {
            id: Uuid::now_v7(),
            external_id: Some(unit.product.external_id.clone()),
            sku: unit.sku.clone(),
            title: unit.title.clone(),
            description: unit.product.description.clone(),
            images: unit.product.images.clone(),
            price_cents,
            currency: "EUR".to_owned(),
            stock,
            has_local_changes: pending,
            channel_price_cents: None,
            channel_content_sha: Some(unit.sha.clone()),
            channel_state: Some("active".to_owned()),
        }
    }

    fn actions(plan: &Plan) -> Vec<&str> {
        plan.ledger.iter().map(|e| e.action).collect()
    }

    #[test]
    fn the_content_hash_separates_fields() {
        let a = content_sha("ab", "c", &[]);
        assert_ne!(a, content_sha("a", "bc", &[]));
        assert_ne!(a, content_sha("ab", "c", &["".to_owned()]));
        assert_eq!(a, content_sha("ab", "c", &[]));
    }

    #[test]
    fn units_without_sku_get_one_and_duplicates_are_skipped() {
        let products = [
            channel("1", "", 100, 1),
            channel("2", "SKU-A", 100, 1),
            channel("3", "SKU-A", 100, 1),
        ];
        let units: Vec<_> = products.iter().map(|p| Unit::new(p, "shopify")).collect();
        assert_eq!(units[0].sku, "shopify-1");
        let plan = plan(&units, &[], &[], 0);
        assert_eq!(plan.new.len(), 2);
        assert_eq!(plan.skipped, 1);
        let skipped = plan.ledger.iter().find(|e| e.action == "skipped").unwrap();
        assert_eq!(skipped.channel_code.as_deref(), Some("duplicate_sku"));
        assert_eq!(skipped.external_id.as_deref(), Some("3"));
    }

    #[test]
    fn a_unit_listed_twice_is_taken_once() {
        let products = [channel("1", "SKU-A", 100, 1), channel("1", "SKU-B", 100, 1)];
        let units: Vec<_> = products.iter().map(|p| Unit::new(p, "shopify")).collect();
        let plan = plan(&units, &[], &[], 0);
        assert_eq!(plan.new.sku, ["SKU-A"]);
        assert_eq!(plan.skipped, 1);
    }

    #[test]
    fn a_new_sku_the_merchant_has_adopts_its_stock_and_is_pending() {
        let products = [channel("1", "SKU-A", 100, 9), channel("2", "SKU-B", 100, 4)];
        let units: Vec<_> = products.iter().map(|p| Unit::new(p, "shopify")).collect();
        let plan = plan(&units, &[], &[("SKU-A".to_owned(), 2)], 0);
        assert_eq!(plan.new.stock, [2, 4]);
        assert_eq!(plan.new.has_local_changes, [true, false]);
        assert_eq!(plan.new.channel_stock, [Some(9), Some(4)]);
    }

    #[test]
    fn a_pending_price_stays_and_the_channels_is_a_conflict() {
        let products = [channel("1", "SKU-A", 150, 5)];
        let units: Vec<_> = products.iter().map(|p| Unit::new(p, "shopify")).collect();
        let row = known(&units[0], 100, 5, true);
        let pending = plan(&units, std::slice::from_ref(&row), &[], 0);
        assert_eq!(pending.existing.price_cents, [100]);
        assert_eq!(actions(&pending), ["conflict"]);
        let free = plan(
            &units,
            &[Known {
                has_local_changes: false,
                ..row
            }],
            &[],
            0,
        );
        assert_eq!(free.existing.price_cents, [150]);
        assert_eq!(actions(&free), ["updated"]);
        assert_eq!(free.existing.channel_price_cents, [Some(150)]);
        // Only the stock is pending (an order elsewhere): the channel's new price is taken.
        let stock_only = plan(
            &units,
            &[Known {
                channel_price_cents: Some(100),
                ..known(&units[0], 100, 5, true)
            }],
            &[],
            0,
        );
        assert_eq!(stock_only.existing.price_cents, [150]);
        assert_eq!(actions(&stock_only), ["updated"]);
    }

    #[test]
    fn stock_is_never_pulled_and_a_channel_listing_more_is_pending() {
        let products = [channel("1", "SKU-A", 100, 8)];
        let units: Vec<_> = products.iter().map(|p| Unit::new(p, "shopify")).collect();
        let more = plan(&units, &[known(&units[0], 100, 5, false)], &[], 0);
        assert_eq!(more.existing.has_local_changes, [true]);
        assert_eq!(actions(&more), ["conflict"]);
        let fewer = plan(&units, &[known(&units[0], 100, 10, false)], &[], 0);
        assert_eq!(fewer.existing.has_local_changes, [false]);
        // With a buffer of 2 the cockpit lists 8: no conflict.
        let buffered = plan(&units, &[known(&units[0], 100, 10, false)], &[], 2);
        assert!(buffered.ledger.is_empty());
        assert!(
            buffered.existing.stock.is_empty(),
            "an update writes no stock"
        );
    }

    #[test]
    fn local_content_stays_until_the_channel_changes_it() {
        let products = [channel("1", "SKU-A", 100, 5)];
        let units: Vec<_> = products.iter().map(|p| Unit::new(p, "shopify")).collect();
        let edited = Known {
            title: "Mein Honig".to_owned(),
            ..known(&units[0], 100, 5, true)
        };
        let kept = plan(&units, std::slice::from_ref(&edited), &[], 0);
        assert_eq!(kept.existing.title, ["Mein Honig"]);
        let mut changed = products[0].clone();
        changed.title = "Waldhonig 500 g".to_owned();
        let units = [Unit::new(&changed, "shopify")];
        let taken = plan(&units, &[edited], &[], 0);
        assert_eq!(taken.existing.title, ["Waldhonig 500 g"]);
        assert_eq!(actions(&taken), ["updated"]);
    }

    #[test]
    fn a_cockpit_product_of_the_connection_is_linked() {
        let products = [channel("77", "SKU-A", 100, 5)];
        let units: Vec<_> = products.iter().map(|p| Unit::new(p, "shopify")).collect();
        let cockpit = Known {
            external_id: None,
            channel_content_sha: None,
            channel_state: None,
            ..known(&units[0], 100, 5, false)
        };
        let plan = plan(&units, std::slice::from_ref(&cockpit), &[], 0);
        assert!(plan.new.is_empty());
        assert_eq!(plan.existing.id, [cockpit.id]);
        assert_eq!(plan.existing.external_id, ["77"]);
    }

    #[test]
    fn text_postgres_refuses_is_cleaned_and_a_unit_with_such_an_id_is_skipped() {
        let mut dirty = channel("1", "SKU\0-A", 100, 5);
        dirty.title = "Wald\0honig".to_owned();
        dirty.description = "<p>\0</p>".to_owned();
        dirty.images = vec!["https://cdn/\0a.svg".to_owned()];
        let mut bad_id = channel("2\0", "SKU-B", 100, 5);
        bad_id.title = "\0".to_owned();
        let products = [dirty, bad_id, channel("", "SKU-C", 100, 5)];
        let units: Vec<_> = products.iter().map(|p| Unit::new(p, "shopify")).collect();
        let plan = plan(&units, &[], &[], 0);
        assert_eq!(plan.new.sku, ["SKU-A"]);
        assert_eq!(plan.new.title, ["Waldhonig"]);
        assert_eq!(plan.new.description, ["<p></p>"]);
        assert_eq!(plan.new.images, [r#"["https://cdn/a.svg"]"#]);
        assert_eq!(plan.skipped, 2);
        let skipped: Vec<_> = plan
            .ledger
            .iter()
            .filter(|e| e.action == "skipped")
            .collect();
        assert!(skipped
            .iter()
            .all(|e| e.channel_code.as_deref() == Some("invalid_id")));
        assert_eq!(skipped[0].external_id.as_deref(), Some("2"));
    }

    #[test]
    fn a_skipped_unit_of_a_known_product_is_still_seen() {
        // Two variants swapped their SKUs: each unit's SKU is the other product's.
        let products = [
            channel("1", "SKU-B", 100, 5),
            channel("2", "SKU-A", 999_999_999_999, 7),
        ];
        let units: Vec<_> = products.iter().map(|p| Unit::new(p, "shopify")).collect();
        let a = Known {
            sku: "SKU-A".to_owned(),
            ..known(&units[0], 100, 5, false)
        };
        let b = Known {
            sku: "SKU-B".to_owned(),
            ..known(&units[1], 100, 7, false)
        };
        let plan = plan(&units, &[a.clone(), b.clone()], &[], 0);
        assert_eq!(plan.skipped, 2);
        assert!(plan.existing.is_empty());
        assert_eq!(plan.seen.id, [a.id, b.id]);
        assert_eq!(plan.seen.channel_stock, [Some(5), Some(7)]);
    }

    #[test]
    fn a_product_renamed_to_a_sku_the_merchant_has_takes_its_stock() {
        let products = [channel("1", "SKU-B", 100, 50)];
        let units: Vec<_> = products.iter().map(|p| Unit::new(p, "shopify")).collect();
        let row = Known {
            sku: "SKU-A".to_owned(),
            ..known(&units[0], 100, 50, false)
        };
        let plan = plan(&units, &[row], &[("SKU-B".to_owned(), 0)], 0);
        assert_eq!(actions(&plan), ["conflict", "updated"]);
        assert_eq!(
            plan.ledger[1].changes["stock"],
            serde_json::json!({"old": 50, "new": 0})
        );
        assert_eq!(plan.existing.has_local_changes, [true]);
    }
}
