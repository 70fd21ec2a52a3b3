//! The orders phase: the orders changed at the channel since the job's `orders_since`,
//! upserted page by page by the channel's id (never duplicated), with their lines. Once the
//! connection has a completed import, a new order placed since it began lowers the
//! merchant's one stock of each SKU it sold, a cancellation or refund of such an order gives
//! it back, and every other channel selling the SKU gets a push job in the same transaction
//! (docs/ARCHITECTURE.md, "Orders pull").

use std::collections::HashMap;

use chrono::{Duration, Utc};
use serde_json::Value;
use sm_connectors::{Channel, ChannelOrder, Cursor, OrderLine, OrderStatus};
use sqlx::PgConnection;
use uuid::Uuid;

use super::enqueue::{enqueue, NewJob};
use super::ledger::Entry;
use super::run::{PageDone, RunContext};
use super::text::clean;
use super::{Kind, Mode, Origin, SyncError};
use crate::config::SyncSettings;
use crate::db::order_import::{self, Imported, NewLine, NewOrder, Source};

/// Longest order number, SKU, title, name and email kept (longer ones are clipped).
const MAX_NUMBER_CHARS: usize = 100;
const MAX_SKU_CHARS: usize = 100;
const MAX_TEXT_CHARS: usize = 500;
/// Longest channel id taken: clipping an id could merge two orders, so a longer one is
/// skipped.
const MAX_ID_CHARS: usize = 255;

/// Runs this phase from `ctx.job.cursor` to its end, one committed page at a time; the
/// last [`RunContext::commit_page`] has `next: None` and moves the job to the next phase.
pub async fn run(ctx: &mut RunContext) -> Result<(), SyncError> {
    let (user_id, connection_id) = (ctx.job.user_id, ctx.job.connection_id);
    // Fixed when the job was made; a job without it (none should be) reads the window.
    let since = ctx
        .job
        .orders_since
        .unwrap_or_else(|| Utc::now() - Duration::days(ctx.state.sync.orders_import_days));
    // The first import is history, already reflected in the channel's own stock: only
    // orders placed since it began lower it.
    let stock_from = {
        let mut db = ctx.state.db.acquire().await?;
        match order_import::stock_from(&mut db, user_id, connection_id).await {
            Ok(from) => from,
            Err(sqlx::Error::RowNotFound) => {
                return Err(SyncError::Connection {
                    code: "connection_not_found",
                    message: "The connection no longer exists.".to_owned(),
                })
            }
            Err(e) => return Err(e.into()),
        }
    };
    // Set by the claim; a job without it (none should be) counts from now.
    let started_at = ctx.job.started_at.unwrap_or_else(Utc::now);
    let page_size = ctx.channel.limits().max_page_size;
    let channel = ctx.platform.as_str();
    loop {
        let cursor = ctx.job.cursor.clone().map(Cursor);
        let page = ctx
            .channel
            .orders_page(since, cursor.as_ref(), page_size)
            .await?;
        let seen_until = page.items.iter().map(|o| o.updated_at).max();
        let (orders, skipped) = prepare(page.items);
        let source = Source {
            user_id,
            connection_id,
            channel,
        };
        let mut tx = ctx.begin_pull_page().await?;
        let imported = order_import::import_page(&mut tx, &source, &orders, stock_from).await?;
        // In the page's transaction: the stock it moved and the pushes that carry it to
        // the other channels are committed together or not at all.
        if imported.moved_stock() {
            push_elsewhere(&mut tx, &ctx.state.sync, user_id, connection_id).await?;
        }
        let next = page.next.map(|c| c.0);
        if next.is_none() {
            // No order at all still completes the import: the next one counts as new.
            let until = ctx.job.orders_seen_until.max(seen_until).unwrap_or(since);
            order_import::finish(&mut tx, user_id, connection_id, until, started_at).await?;
        }
        let done = PageDone {
            next,
            items: imported.orders.len() as i32,
            failed: skipped.len() as i32,
            total: None,
            orders_seen_until: seen_until,
            ledger: ledger(&imported, skipped),
        };
        let last = done.next.is_none();
        ctx.commit_page(tx, done).await?;
        if last {
            return Ok(());
        }
    }
}

/// Enqueues a push (origin stock) for every other connection of the merchant (active or
/// pending) that has pending products now, so the moved stock reaches those channels too.
async fn push_elsewhere(
    tx: &mut PgConnection,
    settings: &SyncSettings,
    user_id: Uuid,
    connection_id: Uuid,
) -> Result<(), SyncError> {
    let others = order_import::connections_to_push(tx, user_id, connection_id).await?;
    if others.is_empty() {
        return Ok(());
    }
    order_import::lock_jobs(tx, user_id).await?;
    for other in others {
        let new = NewJob {
            user_id,
            connection_id: other,
            kind: Kind::Push,
            mode: Mode::Incremental,
            origin: Origin::Stock,
        };
        enqueue(tx, settings, &new).await?;
    }
    Ok(())
}

/// An order the database cannot take, and why (a ledger entry; never a failed page).
#[derive(Debug, Clone, PartialEq)]
struct Skipped {
    external_id: String,
    code: &'static str,
    message: String,
}

/// The page's orders as they will be stored (one per channel id, the most recently
/// changed), and those that cannot be.
fn prepare(items: Vec<ChannelOrder>) -> (Vec<NewOrder>, Vec<Skipped>) {
    let mut skipped = Vec::new();
    let mut by_id: HashMap<String, NewOrder> = HashMap::new();
    let mut order_of_ids = Vec::new();
    for item in items {
        match normalise(item) {
            Ok(order) => match by_id.get(&order.external_id) {
                Some(kept) if kept.updated_at > order.updated_at => {}
                kept => {
                    if kept.is_none() {
                        order_of_ids.push(order.external_id.clone());
                    }
                    by_id.insert(order.external_id.clone(), order);
                }
            },
            Err(skip) => skipped.push(skip),
        }
    }
    let orders = order_of_ids
        .into_iter()
        .filter_map(|id| by_id.remove(&id))
        .collect();
    (orders, skipped)
}

/// The channel's order within the table's constraints: text without NULs and clipped,
/// no negative amounts, an upper-case currency code, an order number (the channel's id
/// when it gives none), lines that sold something. `Err` for what cannot be stored.
fn normalise(order: ChannelOrder) -> Result<NewOrder, Skipped> {
    let external_id = clean(&order.external_id, usize::MAX);
    let skip = |code: &'static str, message: String| Skipped {
        external_id: clean(&external_id, MAX_ID_CHARS),
        code,
        message,
    };
    if external_id.trim().is_empty() {
        return Err(skip(
            "missing_id",
            "The channel sent an order without an id.".into(),
        ));
    }
    if external_id.chars().count() > MAX_ID_CHARS {
        return Err(skip(
            "invalid_id",
            format!("The order's id is longer than {MAX_ID_CHARS} characters."),
        ));
    }
    let currency = order.currency.trim().to_ascii_uppercase();
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(skip(
            "invalid_currency",
            format!(
                "The order's currency {:?} is not an ISO 4217 code.",
                clean(&order.currency, 20)
            ),
        ));
    }
    let number = clean(order.order_number.trim(), MAX_NUMBER_CHARS);
    Ok(NewOrder {
        order_number: if number.is_empty() {
            clean(&external_id, MAX_NUMBER_CHARS)
        } else {
            number
        },
        external_id,
        status: status(order.status),
        currency,
        total_cents: order.total_cents.max(0),
        customer_name: clean(order.customer_name.trim(), MAX_TEXT_CHARS),
        customer_email: clean(order.customer_email.trim(), MAX_TEXT_CHARS),
        placed_at: order.placed_at,
        updated_at: order.updated_at,
        lines: order.lines.into_iter().filter_map(line).collect(),
    })
}

/// A line that sold at least one unit, within the table's constraints.
fn line(line: OrderLine) -> Option<NewLine> {
    (line.quantity > 0).then(|| NewLine {
        external_id: line
            .external_id
            .map(|id| clean(&id, MAX_ID_CHARS))
            .filter(|id| !id.is_empty()),
        sku: clean(line.sku.trim(), MAX_SKU_CHARS),
        title: clean(line.title.trim(), MAX_TEXT_CHARS),
        quantity: line.quantity,
        unit_price_cents: line.unit_price_cents.max(0),
        total_cents: line.total_cents.max(0),
    })
}

fn status(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::Pending => "pending",
        OrderStatus::Paid => "paid",
        OrderStatus::Shipped => "shipped",
        OrderStatus::Delivered => "delivered",
        OrderStatus::Cancelled => "cancelled",
        OrderStatus::Refunded => "refunded",
    }
}

/// The page's ledger: every order imported or changed, every stock lowered or given back,
/// every order
/// skipped with its reason.
fn ledger(imported: &Imported, skipped: Vec<Skipped>) -> Vec<Entry> {
    let mut entries = Vec::new();
    for o in &imported.orders {
        if o.created {
            entries.push(
                Entry::order("imported", Some(o.id), &o.external_id)
                    .change("status", Value::Null, o.status.as_str())
                    .change("total_cents", Value::Null, o.total_cents),
            );
        } else if o.updated {
            // Another total or customer with the same status is an update.
            let status_changed = o.old_status.as_deref() != Some(o.status.as_str());
            let action = if status_changed {
                "status_changed"
            } else {
                "updated"
            };
            let mut entry = Entry::order(action, Some(o.id), &o.external_id);
            if status_changed {
                entry = entry.change("status", o.old_status.clone(), o.status.as_str());
            }
            if o.old_total_cents != Some(o.total_cents) {
                entry = entry.change("total_cents", o.old_total_cents, o.total_cents);
            }
            entries.push(entry);
        }
    }
    let moves = [
        ("stock_lowered", &imported.lowered),
        ("stock_returned", &imported.returned),
    ];
    for (action, moved) in moves {
        for m in moved {
            entries.push(
                Entry::product(action, Some(m.product_id), &m.sku, m.external_id.as_deref())
                    .change("stock", m.old_stock, m.stock),
            );
        }
    }
    for s in skipped {
        entries.push(Entry::order("skipped", None, &s.external_id).answer(s.code, &s.message));
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(id: &str) -> ChannelOrder {
        let at = Utc::now();
        ChannelOrder {
            external_id: id.to_owned(),
            order_number: format!("#{id}"),
            status: OrderStatus::Paid,
            currency: "EUR".to_owned(),
            total_cents: 1999,
            customer_name: "Anna Schmidt".to_owned(),
            customer_email: "anna@example.de".to_owned(),
            placed_at: at,
            updated_at: at,
            lines: vec![OrderLine {
                external_id: Some("l1".to_owned()),
                sku: "SM-01-000001".to_owned(),
                title: "Kochmesser".to_owned(),
                quantity: 1,
                unit_price_cents: 1999,
                total_cents: 1999,
            }],
        }
    }

    #[test]
    fn what_the_table_cannot_hold_is_clipped_or_skipped() {
        let mut o = order("1");
        o.order_number = "  ".to_owned();
        o.currency = " eur".to_owned();
        o.total_cents = -5;
        o.customer_name = format!("A\0nna{}", "x".repeat(600));
        o.lines[0].unit_price_cents = -1;
        o.lines.push(OrderLine {
            quantity: 0,
            ..o.lines[0].clone()
        });
        let n = normalise(o).unwrap();
        assert_eq!(n.order_number, "1", "the channel's id stands in");
        assert_eq!(n.currency, "EUR");
        assert_eq!(n.total_cents, 0);
        assert!(n.customer_name.starts_with("Anna"));
        assert_eq!(n.customer_name.chars().count(), MAX_TEXT_CHARS);
        assert_eq!(n.lines.len(), 1, "a line that sold nothing is dropped");
        assert_eq!(n.lines[0].unit_price_cents, 0);

        let mut o = order("2");
        o.currency = "€".to_owned();
        assert_eq!(normalise(o).unwrap_err().code, "invalid_currency");
        assert_eq!(normalise(order("")).unwrap_err().code, "missing_id");
        assert_eq!(
            normalise(order(&"9".repeat(300))).unwrap_err().code,
            "invalid_id"
        );
    }

    #[test]
    fn a_page_keeps_one_order_per_id_the_newest() {
        let mut older = order("7");
        older.status = OrderStatus::Pending;
        older.updated_at -= Duration::minutes(5);
        let newer = order("7");
        let (orders, skipped) = prepare(vec![newer, order("8"), older, order("")]);
        assert_eq!(orders.len(), 2);
        assert_eq!(orders[0].external_id, "7");
        assert_eq!(orders[0].status, "paid");
        assert_eq!(skipped.len(), 1);
    }
}
