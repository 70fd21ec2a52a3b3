//! FBA Inventory v1: `getInventorySummaries`, the stock Amazon holds for the seller in its
//! fulfilment centres, per SKU, paged by `nextToken`.

use serde::Deserialize;

use super::limits::Operation;
use super::Client;
use super::Pagination;
use crate::{ChannelError, Cursor, Page};

#[derive(Deserialize)]
struct Answer {
    payload: Payload,
    #[serde(default)]
    pagination: Option<Pagination>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    #[serde(default)]
    inventory_summaries: Vec<Summary>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Summary {
    seller_sku: Option<String>,
    inventory_details: Option<Details>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Details {
    fulfillable_quantity: Option<i64>,
}

impl Client {
    /// One page of the seller's FBA stock on the connection's marketplace: (SKU, quantity
    /// Amazon can ship now). Summaries without a SKU are skipped; a SKU without details
    /// counts as nothing fulfillable.
    pub async fn fba_inventory_page(
        &self,
        cursor: Option<&Cursor>,
    ) -> Result<Page<(String, i64)>, ChannelError> {
        let marketplace = self.marketplace();
        let mut query = vec![
            ("granularityType", "Marketplace"),
            ("granularityId", marketplace),
            ("marketplaceIds", marketplace),
            ("details", "true"),
        ];
        if let Some(Cursor(token)) = cursor {
            query.push(("nextToken", token.as_str()));
        }
        let url = self.url(&["fba", "inventory", "v1", "summaries"], &query)?;
        let answer: Answer = self
            .call(Operation::GetInventorySummaries, |c| c.get(url.clone()))
            .await?
            .map_err(|refusal| refusal.into_error())?;
        let items = answer
            .payload
            .inventory_summaries
            .into_iter()
            .filter_map(|summary| {
                let quantity = summary
                    .inventory_details
                    .and_then(|d| d.fulfillable_quantity)
                    .unwrap_or(0);
                Some((summary.seller_sku?, quantity))
            })
            .collect();
        let next = super::next_page(answer.pagination.and_then(|p| p.next_token), cursor)?;
        Ok(Page { items, next })
    }
}
