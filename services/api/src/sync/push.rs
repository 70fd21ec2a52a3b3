//! The push phase: a connection's pending local changes (price, listed stock) out to its
//! channel in batches, each batch's outcomes committed with the job's progress.
//!
//! A batch is the next pending products in id order after the cursor (the previous
//! batch's last id). Of each product only what differs from the channel's baseline is
//! sent: a price change does not overwrite a stock the channel may have lowered by a sale
//! meanwhile. The stock is sent with the channel's baseline, and a channel that can compare
//! (Shopify) keeps a stock that changed since (a sale there): the product stays pending for
//! the next sync, whose orders pass takes the sale first. A product whose channel already
//! has both values is cleared without a call.

use std::collections::HashMap;

use sm_connectors::{
    Channel, ItemOutcome, ListingUpdate, Money, Rejection, STOCK_CHANGED_AT_CHANNEL,
};
use sqlx::PgConnection;
use uuid::Uuid;

use super::enqueue::{enqueue, NewJob};
use super::ledger::Entry;
use super::run::{PageDone, RunContext};
use super::{Kind, Mode, Origin, SyncError};
use crate::config::SyncSettings;
use crate::db::product_push::{self, Marks, Outcome, Pending};
use crate::state::AppState;

/// Most products one batch takes, whatever the channel allows.
pub const MAX_BATCH: usize = 250;

/// Runs this phase from `ctx.job.cursor` to its end, one committed page at a time; the
/// last [`RunContext::commit_page`] has `next: None` and moves the job to the next phase.
pub async fn run(ctx: &mut RunContext) -> Result<(), SyncError> {
    let size = ctx.channel.limits().max_batch.clamp(1, MAX_BATCH);
    loop {
        // The cursor is ours (a product id); one that does not parse starts over, which
        // only re-reads what is still pending.
        let after = ctx
            .job
            .cursor
            .as_deref()
            .and_then(|c| c.parse::<Uuid>().ok());
        let batch = product_push::batch(
            &ctx.state.db,
            ctx.job.user_id,
            ctx.job.connection_id,
            after,
            size as i64,
        )
        .await?;
        let next = match batch.last() {
            Some(last) if batch.len() == size => Some(last.id.to_string()),
            _ => None,
        };
        let last = next.is_none();
        // A worker whose lease ran out must not send stale values after the new owner
        // sent newer ones: it checks (and renews) its lease right before writing out.
        if !super::queue::renew(&ctx.state.db, ctx.lease, ctx.state.sync.lease).await? {
            return Err(SyncError::LeaseLost);
        }
        let pushed = push_batch(&*ctx.channel, &batch).await?;
        let mut tx = ctx.begin().await?;
        if !batch.is_empty() {
            product_push::mark(
                &mut tx,
                ctx.job.user_id,
                ctx.job.connection_id,
                &pushed.marks,
            )
            .await?;
        }
        let page = PageDone {
            next,
            items: batch.len() as i32,
            failed: pushed.failed,
            ledger: pushed.ledger,
            ..PageDone::default()
        };
        ctx.commit_page(tx, page).await?;
        if last {
            return Ok(());
        }
    }
}

/// A batch's outcomes, to be marked and committed.
struct Pushed {
    marks: Marks,
    ledger: Vec<Entry>,
    failed: i32,
}

/// Sends what differs of `batch` in one call. A failure of the whole call is returned
/// (nothing is marked, the job retries); the channel's answer per item is not.
async fn push_batch<C: Channel + ?Sized>(
    channel: &C,
    batch: &[Pending],
) -> Result<Pushed, SyncError> {
    let mut pushed = Pushed {
        marks: Marks::default(),
        ledger: Vec::new(),
        failed: 0,
    };
    let mut sent = Vec::new();
    let mut updates = Vec::new();
    for p in batch {
        let fields = (p.price_differs(), p.stock_differs());
        if fields == (false, false) {
            pushed.marks.add(p, Outcome::Unchanged, fields, None);
            continue;
        }
        updates.push(update_of(p, fields));
        sent.push((p, fields));
    }
    if updates.is_empty() {
        return Ok(pushed);
    }
    let outcomes = channel.push(&updates).await?;
    let by_id: HashMap<&str, &ItemOutcome> = outcomes
        .iter()
        .map(|o| (o.external_id.as_str(), o))
        .collect();
    for (p, fields) in sent {
        let result = match by_id.get(p.external_id.as_str()) {
            Some(outcome) => outcome.result.clone(),
            // A connector answers for every item; if one did not, the change is not
            // taken for done, and not retried blindly either.
            None => Err(Rejection {
                code: "no_answer".to_owned(),
                message: "the channel did not say whether it took the change".to_owned(),
            }),
        };
        let entry = changes(p, fields);
        match result {
            Ok(()) => {
                pushed.marks.add(p, Outcome::Pushed, fields, None);
                pushed.ledger.push(entry("pushed"));
            }
            // Sent again after the next pull: not the merchant's to fix.
            Err(refusal) if refusal.code == STOCK_CHANGED_AT_CHANNEL => {
                pushed.marks.add(p, Outcome::StockChanged, fields, None);
                let mut entry = entry("rejected").answer(&refusal.code, &refusal.message);
                entry.will_retry = true;
                pushed.ledger.push(entry);
                pushed.failed += 1;
            }
            Err(refusal) => {
                let reason = (refusal.code.as_str(), refusal.message.as_str());
                pushed.marks.add(p, Outcome::Rejected, fields, Some(reason));
                pushed
                    .ledger
                    .push(entry("rejected").answer(&refusal.code, &refusal.message));
                pushed.failed += 1;
            }
        }
    }
    Ok(pushed)
}

/// The update for `p` carrying the fields that differ (price, stock).
fn update_of(p: &Pending, (price, stock): (bool, bool)) -> ListingUpdate {
    ListingUpdate {
        external_id: p.external_id.clone(),
        parent_id: p.parent_external_id.clone(),
        inventory_id: p.inventory_external_id.clone(),
        sku: p.sku.clone(),
        price: price.then(|| Money {
            cents: p.price_cents,
            currency: p.currency.clone(),
        }),
        quantity: stock.then_some(i64::from(p.listed_stock)),
        // What the channel had at the last sync: a sale there since is not overwritten.
        expected_quantity: p.channel_stock.filter(|_| stock).map(i64::from),
    }
}

/// A ledger entry maker for `p` with the sent fields as old → new.
fn changes(p: &Pending, (price, stock): (bool, bool)) -> impl Fn(&'static str) -> Entry + '_ {
    move |action| {
        let mut entry = Entry::product(action, Some(p.id), &p.sku, Some(&p.external_id));
        if price {
            entry = entry.change("price_cents", p.channel_price_cents, p.price_cents);
        }
        if stock {
            entry = entry.change("stock", p.channel_stock, p.listed_stock);
        }
        entry
    }
}

/// Enqueues a push for each of the user's connections with pending products (after a
/// local edit, whose stock the database spreads to every product with the SKU). One job
/// per connection however many of its products changed; a waiting job takes it in, a
/// running one pushes what is pending when it ends. Returns how many connections.
pub async fn enqueue_pending(
    db: &mut PgConnection,
    settings: &SyncSettings,
    user_id: Uuid,
    origin: Origin,
) -> sqlx::Result<usize> {
    let connections = product_push::connections_with_pending(&mut *db, user_id).await?;
    for &connection_id in &connections {
        let job = NewJob {
            user_id,
            connection_id,
            kind: Kind::Push,
            mode: Mode::Incremental,
            origin,
        };
        enqueue(db, settings, &job).await?;
    }
    Ok(connections.len())
}

/// After a local edit committed: a push for every connection it left pending. The edit
/// stands whatever happens here; a failure is logged, and the connection's next sync
/// (every kind ends with a push) sends the change.
pub async fn after_local_edit(state: &AppState, user_id: Uuid) {
    let enqueued = async {
        let mut db = state.db.acquire().await?;
        enqueue_pending(&mut db, &state.sync, user_id, Origin::Merchant).await
    }
    .await;
    if let Err(e) = enqueued {
        tracing::warn!(error = %e, %user_id, "could not enqueue the push of a local edit");
    }
}
