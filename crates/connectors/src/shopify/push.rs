//! Pushing prices (`productVariantsBulkUpdate`, one call per product) and stock
//! (`inventorySetQuantities` at the shop's first location, up to 250 items a call, each
//! compared with the quantity we last read so that a sale at Shopify is not overwritten).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

use super::client::{Gql, Operation};
use crate::error::clip;
use crate::money;
use crate::{ChannelError, ItemOutcome, ListingUpdate, Rejection, STOCK_CHANGED_AT_CHANNEL};

const VARIANTS_BULK_UPDATE: Operation = Operation {
    name: "VariantsBulkUpdate",
    document: include_str!("queries/variants_bulk_update.graphql"),
};
const INVENTORY_SET_QUANTITIES: Operation = Operation {
    name: "InventorySetQuantities",
    document: include_str!("queries/inventory_set_quantities.graphql"),
};
const PRIMARY_LOCATION: Operation = Operation {
    name: "PrimaryLocation",
    document: include_str!("queries/primary_location.graphql"),
};

/// Shopify takes at most 250 items in an array input.
pub(crate) const MAX_BATCH: usize = 250;
/// A mutation's base cost.
const MUTATION_COST: u32 = 10;

#[derive(Deserialize)]
struct UserError {
    field: Option<Vec<String>>,
    message: String,
    code: Option<String>,
}

impl UserError {
    /// The position in the input array the error's field path names (`["variants", "3",
    /// "price"]`, `["input", "quantities", "3", "quantity"]`).
    fn index(&self, array: &str) -> Option<usize> {
        let path = self.field.as_deref()?;
        let at = path.iter().position(|f| f == array)?;
        path.get(at + 1)?.parse().ok()
    }

    fn rejection(&self) -> Rejection {
        if self.code.as_deref() == Some("COMPARE_QUANTITY_STALE") {
            return Rejection {
                code: STOCK_CHANGED_AT_CHANNEL.to_owned(),
                message: "The stock at Shopify changed since the last sync (a sale there): it \
                          is read again before the stock is pushed."
                    .to_owned(),
            };
        }
        Rejection {
            code: self.code.clone().unwrap_or_else(|| "rejected".to_owned()),
            message: clip(&self.message),
        }
    }
}

/// Per update, the first reason it failed.
struct Outcomes(Vec<Option<Rejection>>);

impl Outcomes {
    fn reject(&mut self, index: usize, rejection: Rejection) {
        if let Some(slot) = self.0.get_mut(index) {
            slot.get_or_insert(rejection);
        }
    }

    /// Maps a call's user errors back to the updates it carried (`items[n]` is the
    /// update at position n of the input array). An error naming no item fails them all;
    /// when Shopify applied nothing, the items without an error of their own are
    /// reported as not applied.
    fn apply(&mut self, items: &[usize], array: &str, errors: &[UserError], applied: bool) {
        if errors.is_empty() {
            return;
        }
        let mut named = vec![false; items.len()];
        for error in errors {
            match error.index(array).filter(|&n| n < items.len()) {
                Some(n) => {
                    named[n] = true;
                    self.reject(items[n], error.rejection());
                }
                None => {
                    named.iter_mut().for_each(|n| *n = true);
                    items
                        .iter()
                        .for_each(|&i| self.reject(i, error.rejection()));
                }
            }
        }
        if !applied {
            for (&i, _) in items.iter().zip(&named).filter(|(_, named)| !**named) {
                self.reject(
                    i,
                    Rejection {
                        code: "not_applied".to_owned(),
                        message:
                            "Shopify refused other items of the same call and applied none of them"
                                .to_owned(),
                    },
                );
            }
        }
    }
}

pub(crate) async fn push(
    gql: &Gql,
    updates: &[ListingUpdate],
) -> Result<Vec<ItemOutcome>, ChannelError> {
    let mut outcomes = Outcomes(vec![None; updates.len()]);
    push_prices(gql, updates, &mut outcomes).await?;
    push_stock(gql, updates, &mut outcomes).await?;
    Ok(updates
        .iter()
        .zip(outcomes.0)
        .map(|(update, rejection)| ItemOutcome {
            external_id: update.external_id.clone(),
            sku: update.sku.clone(),
            result: rejection.map_or(Ok(()), Err),
        })
        .collect())
}

fn missing(code: &str, message: &str) -> Rejection {
    Rejection {
        code: code.to_owned(),
        message: message.to_owned(),
    }
}

async fn push_prices(
    gql: &Gql,
    updates: &[ListingUpdate],
    outcomes: &mut Outcomes,
) -> Result<(), ChannelError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Data {
        product_variants_bulk_update: Option<Payload>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Payload {
        user_errors: Vec<UserError>,
    }
    // Prices go per product: the mutation names one product and its variants.
    let mut by_product: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, update) in updates.iter().enumerate() {
        if update.price.is_none() {
            continue;
        }
        match update.parent_id.as_deref() {
            Some(product) => by_product.entry(product).or_default().push(i),
            None => outcomes.reject(
                i,
                missing(
                    "missing_product_id",
                    "a Shopify price change needs the variant's product",
                ),
            ),
        }
    }
    for (product, items) in by_product {
        for items in items.chunks(MAX_BATCH) {
            let variants: Vec<Value> = items
                .iter()
                .filter_map(|&i| {
                    let update = &updates[i];
                    let price = update.price.as_ref()?;
                    Some(json!({"id": update.external_id, "price": money::decimal(price.cents)}))
                })
                .collect();
            let data: Data = gql
                .run(
                    &VARIANTS_BULK_UPDATE,
                    json!({"productId": product, "variants": variants}),
                    MUTATION_COST,
                )
                .await?;
            let payload = data.product_variants_bulk_update.ok_or_else(|| {
                ChannelError::protocol("Shopify answered productVariantsBulkUpdate with null")
            })?;
            // With partial updates allowed, the variants without errors were saved.
            outcomes.apply(items, "variants", &payload.user_errors, true);
        }
    }
    Ok(())
}

async fn push_stock(
    gql: &Gql,
    updates: &[ListingUpdate],
    outcomes: &mut Outcomes,
) -> Result<(), ChannelError> {
    let mut items = Vec::new();
    for (i, update) in updates.iter().enumerate() {
        let Some(quantity) = update.quantity else {
            continue;
        };
        if update.inventory_id.is_none() {
            outcomes.reject(
                i,
                missing(
                    "missing_inventory_item",
                    "a Shopify stock change needs the variant's inventory item",
                ),
            );
        } else if i32::try_from(quantity).is_err() {
            outcomes.reject(
                i,
                missing("invalid_quantity", "the quantity is out of Shopify's range"),
            );
        } else {
            items.push(i);
        }
    }
    if items.is_empty() {
        return Ok(());
    }
    let location = location(gql).await?;
    // An item with a baseline is set only if Shopify still has it (a sale there since is
    // not overwritten); one never read is set outright. A call cannot mix the two.
    let (compared, outright): (Vec<usize>, Vec<usize>) = items
        .into_iter()
        .partition(|&i| updates[i].expected_quantity.is_some());
    for (group, compare) in [(compared, true), (outright, false)] {
        for items in group.chunks(MAX_BATCH) {
            set_quantities(gql, updates, items, &location, compare, outcomes).await?;
        }
    }
    Ok(())
}

/// Sets the stock of `items` at `location`. Shopify applies a call whole or not at all:
/// the items it names in its errors are taken out with their reason and the rest is sent
/// again, so that one sale at Shopify does not hold up the batch.
async fn set_quantities(
    gql: &Gql,
    updates: &[ListingUpdate],
    items: &[usize],
    location: &str,
    compare: bool,
    outcomes: &mut Outcomes,
) -> Result<(), ChannelError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Data {
        inventory_set_quantities: Option<Payload>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Payload {
        /// Null when Shopify applied nothing.
        inventory_adjustment_group: Option<Value>,
        user_errors: Vec<UserError>,
    }
    let mut items = items.to_vec();
    // Each round takes out at least one item: it ends.
    while !items.is_empty() {
        let quantities: Vec<Value> = items
            .iter()
            .map(|&i| {
                let mut quantity = json!({
                    "inventoryItemId": updates[i].inventory_id,
                    "locationId": location,
                    "quantity": updates[i].quantity,
                });
                if compare {
                    quantity["compareQuantity"] = json!(updates[i].expected_quantity);
                }
                quantity
            })
            .collect();
        let mut input = json!({
            "name": "available",
            // The cockpit's figure is the truth.
            "reason": "correction",
            "quantities": quantities,
        });
        if !compare {
            input["ignoreCompareQuantity"] = json!(true);
        }
        let data: Data = gql
            .run(
                &INVENTORY_SET_QUANTITIES,
                json!({"input": input}),
                MUTATION_COST,
            )
            .await?;
        let payload = data.inventory_set_quantities.ok_or_else(|| {
            ChannelError::protocol("Shopify answered inventorySetQuantities with null")
        })?;
        let applied = payload.inventory_adjustment_group.is_some();
        let named: Vec<usize> = payload
            .user_errors
            .iter()
            .filter_map(|e| e.index("quantities").filter(|&n| n < items.len()))
            .collect();
        // Done, or an error that names no item (it fails them all).
        if applied || payload.user_errors.is_empty() || named.len() < payload.user_errors.len() {
            outcomes.apply(&items, "quantities", &payload.user_errors, applied);
            return Ok(());
        }
        outcomes.apply(&items, "quantities", &payload.user_errors, true);
        items = items
            .iter()
            .enumerate()
            .filter(|(n, _)| !named.contains(n))
            .map(|(_, &i)| i)
            .collect();
    }
    Ok(())
}

/// The location stock is set at: the shop's first, read once per shop and process.
async fn location(gql: &Gql) -> Result<String, ChannelError> {
    #[derive(Deserialize)]
    struct Data {
        locations: Nodes,
    }
    #[derive(Deserialize)]
    struct Nodes {
        nodes: Vec<Id>,
    }
    #[derive(Deserialize)]
    struct Id {
        id: String,
    }
    if let Some(known) = gql.shared().with_shop(gql.key(), |s| s.location.clone()) {
        return Ok(known);
    }
    let data: Data = gql.run(&PRIMARY_LOCATION, json!({}), 3).await?;
    let id = data
        .locations
        .nodes
        .into_iter()
        .next()
        .map(|l| l.id)
        .ok_or_else(|| ChannelError::Rejected {
            item: "stock".to_owned(),
            reason: "the shop has no active location to keep stock at".to_owned(),
        })?;
    gql.shared()
        .with_shop(gql.key(), |s| s.location = Some(id.clone()));
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(field: &[&str], code: &str) -> UserError {
        UserError {
            field: Some(field.iter().map(|f| f.to_string()).collect()),
            message: format!("{code} message"),
            code: Some(code.to_owned()),
        }
    }

    #[test]
    fn user_errors_find_their_items() {
        let mut outcomes = Outcomes(vec![None; 5]);
        // The call carried updates 1, 3, 4; its third item and then everything fail.
        outcomes.apply(
            &[1, 3, 4],
            "quantities",
            &[error(
                &["input", "quantities", "2", "quantity"],
                "INVALID_QUANTITY_NEGATIVE",
            )],
            false,
        );
        let codes: Vec<_> = outcomes
            .0
            .iter()
            .map(|r| r.as_ref().map(|r| r.code.as_str()))
            .collect();
        assert_eq!(
            codes,
            [
                None,
                Some("not_applied"),
                None,
                Some("not_applied"),
                Some("INVALID_QUANTITY_NEGATIVE")
            ]
        );
    }

    #[test]
    fn partial_updates_fail_only_the_named_items() {
        let mut outcomes = Outcomes(vec![None; 3]);
        outcomes.apply(
            &[0, 1, 2],
            "variants",
            &[error(&["variants", "1", "price"], "NEGATIVE_PRICE_VALUE")],
            true,
        );
        assert!(outcomes.0[0].is_none() && outcomes.0[2].is_none());
        assert_eq!(
            outcomes.0[1].as_ref().map(|r| r.code.as_str()),
            Some("NEGATIVE_PRICE_VALUE")
        );
        // An error on the product itself fails every variant of the call.
        let mut outcomes = Outcomes(vec![None; 2]);
        outcomes.apply(
            &[0, 1],
            "variants",
            &[error(&["productId"], "PRODUCT_DOES_NOT_EXIST")],
            true,
        );
        assert!(outcomes.0.iter().all(Option::is_some));
    }
}
