//! Listings Items 2021-08-01: the catalogue by `searchListingsItems`, price and stock
//! changes by `patchListingsItem`.

use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use serde::Deserialize;
use serde_json::{json, Value};

use super::limits::Operation;
use super::Pagination;
use super::{money, Client};
use crate::{
    ChannelError, ChannelProduct, Cursor, ItemOutcome, ListingUpdate, Money, Page, Rejection,
};

/// searchListingsItems's `pageSize` maximum.
pub(super) const MAX_PAGE_SIZE: usize = 20;

/// Patches sent at once; the patchListingsItem bucket paces them.
const PATCHES_AT_ONCE: usize = 5;

/// The product type a patch of offer attributes only may name (Amazon needs one, and the
/// generic type spares reading each listing's own first).
const OFFER_ONLY_PRODUCT_TYPE: &str = "PRODUCT";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchResults {
    #[serde(default)]
    pagination: Option<Pagination>,
    items: Vec<Item>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Item {
    sku: String,
    #[serde(default)]
    summaries: Vec<Summary>,
    #[serde(default)]
    attributes: serde_json::Map<String, Value>,
    #[serde(default)]
    offers: Vec<Offer>,
    #[serde(default)]
    fulfillment_availability: Vec<Availability>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Summary {
    marketplace_id: String,
    #[serde(default)]
    status: Vec<String>,
    item_name: Option<String>,
    last_updated_date: Option<String>,
    main_image: Option<Image>,
}

#[derive(Deserialize)]
struct Image {
    link: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Offer {
    marketplace_id: String,
    offer_type: String,
    price: Price,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Price {
    currency_code: String,
    amount: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Availability {
    fulfillment_channel_code: String,
    quantity: Option<i64>,
}

#[derive(Deserialize)]
struct Submission {
    status: String,
    #[serde(default)]
    issues: Vec<Issue>,
}

#[derive(Deserialize)]
struct Issue {
    code: String,
    message: String,
    severity: String,
}

impl Client {
    /// The searchListingsItems URL of one page of the seller's listings (with
    /// `changed_since`: of those changed since then).
    pub(super) fn search_url(
        &self,
        changed_since: Option<DateTime<Utc>>,
        cursor: Option<&Cursor>,
        page_size: usize,
    ) -> Result<url::Url, ChannelError> {
        let page_size = page_size.clamp(1, MAX_PAGE_SIZE).to_string();
        let changed_since =
            changed_since.map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        let mut query = vec![
            ("marketplaceIds", self.marketplace()),
            (
                "includedData",
                "summaries,attributes,offers,fulfillmentAvailability",
            ),
            ("pageSize", page_size.as_str()),
            // Oldest first: listings created while paging land behind the cursor.
            ("sortBy", "createdDate"),
            ("sortOrder", "ASC"),
        ];
        if let Some(since) = &changed_since {
            query.push(("lastUpdatedAfter", since.as_str()));
        }
        if let Some(Cursor(token)) = cursor {
            query.push(("pageToken", token.as_str()));
        }
        self.url(
            &[
                "listings",
                "2021-08-01",
                "items",
                &self.credentials.seller_id,
            ],
            &query,
        )
    }

    pub(super) async fn search_listings(
        &self,
        changed_since: Option<DateTime<Utc>>,
        cursor: Option<&Cursor>,
        page_size: usize,
    ) -> Result<Page<ChannelProduct>, ChannelError> {
        let url = self.search_url(changed_since, cursor, page_size)?;
        let results: SearchResults = self
            .call(Operation::SearchListingsItems, |c| c.get(url.clone()))
            .await?
            .map_err(|refusal| refusal.into_error())?;
        Ok(Page {
            items: results
                .items
                .into_iter()
                .map(|item| self.product(item))
                .collect::<Result<_, _>>()?,
            next: super::next_page(results.pagination.and_then(|p| p.next_token), cursor)?,
        })
    }

    fn product(&self, item: Item) -> Result<ChannelProduct, ChannelError> {
        let marketplace = self.marketplace();
        let summary = item
            .summaries
            .iter()
            .find(|s| s.marketplace_id == marketplace);
        let price = item
            .offers
            .iter()
            .find(|o| o.marketplace_id == marketplace && o.offer_type == "B2C")
            .map(|offer| {
                crate::money::cents(&offer.price.amount)
                    .map(|cents| Money {
                        cents,
                        currency: offer.price.currency_code.clone(),
                    })
                    .ok_or_else(|| {
                        ChannelError::protocol(format!(
                            "Amazon sent the price {:?}",
                            offer.price.amount
                        ))
                    })
            })
            .transpose()?;
        // The seller's own stock (DEFAULT); Amazon's warehouses report under their codes.
        let quantity = item
            .fulfillment_availability
            .iter()
            .find(|a| a.fulfillment_channel_code == "DEFAULT")
            .or_else(|| item.fulfillment_availability.first())
            .and_then(|a| a.quantity);
        let updated_at = summary
            .and_then(|s| s.last_updated_date.as_deref())
            .and_then(|d| DateTime::parse_from_rfc3339(d).ok())
            .map(|d| d.with_timezone(&Utc));
        Ok(ChannelProduct {
            external_id: item.sku.clone(),
            parent_id: None,
            inventory_id: None,
            title: summary
                .and_then(|s| s.item_name.clone())
                .unwrap_or_default(),
            description: attribute_text(&item.attributes, "product_description")
                .unwrap_or_default(),
            ean: ean(&item.attributes),
            price,
            quantity,
            images: summary
                .and_then(|s| s.main_image.as_ref())
                .map(|i| vec![i.link.clone()])
                .unwrap_or_default(),
            active: summary.is_some_and(|s| s.status.iter().any(|s| s == "BUYABLE")),
            updated_at,
            sku: item.sku,
        })
    }

    pub(super) async fn patch_listings(
        &self,
        updates: &[ListingUpdate],
    ) -> Result<Vec<ItemOutcome>, ChannelError> {
        // The futures are made first: a closure over borrowed updates inside the stream
        // trips the compiler's Send check of the async trait method.
        let patches: Vec<_> = updates.iter().map(|u| self.patch_listing(u)).collect();
        futures::stream::iter(patches)
            .buffered(PATCHES_AT_ONCE)
            .try_collect()
            .await
    }

    async fn patch_listing(&self, update: &ListingUpdate) -> Result<ItemOutcome, ChannelError> {
        let outcome = |result| ItemOutcome {
            external_id: update.external_id.clone(),
            sku: update.sku.clone(),
            result,
        };
        // `.` or `..` would address another resource once in the URL.
        if !crate::transport::is_path_segment(&update.external_id) {
            return Ok(outcome(Err(Rejection {
                code: "invalid_sku".to_owned(),
                message: format!(
                    "{:?} cannot be an Amazon SKU in a URL",
                    crate::error::clip(&update.external_id)
                ),
            })));
        }
        let patches = self.patches(update);
        if patches.is_empty() {
            return Ok(outcome(Ok(())));
        }
        let body = json!({ "productType": OFFER_ONLY_PRODUCT_TYPE, "patches": patches });
        let url = self.url(
            &[
                "listings",
                "2021-08-01",
                "items",
                &self.credentials.seller_id,
                &update.external_id,
            ],
            &[("marketplaceIds", self.marketplace())],
        )?;
        let answer: Result<Submission, _> = self
            .call(Operation::PatchListingsItem, |c| {
                c.patch(url.clone()).json(&body)
            })
            .await?;
        let submission = match answer {
            Ok(submission) => submission,
            Err(refusal) => {
                return Ok(outcome(Err(Rejection {
                    code: refusal.code,
                    message: refusal.message,
                })))
            }
        };
        if submission.status != "INVALID" {
            return Ok(outcome(Ok(())));
        }
        let errors: Vec<&Issue> = submission
            .issues
            .iter()
            .filter(|i| i.severity == "ERROR")
            .collect();
        Ok(outcome(Err(Rejection {
            code: errors
                .first()
                .map_or_else(|| "INVALID".to_owned(), |i| i.code.clone()),
            message: if errors.is_empty() {
                "Amazon found the change invalid".to_owned()
            } else {
                errors
                    .iter()
                    .map(|i| crate::error::clip(&i.message))
                    .collect::<Vec<_>>()
                    .join("; ")
            },
        })))
    }

    /// The attribute patches of one update: `purchasable_offer` for the price,
    /// `fulfillment_availability` for the seller's own stock.
    fn patches(&self, update: &ListingUpdate) -> Vec<Value> {
        let mut patches = Vec::new();
        if let Some(price) = &update.price {
            patches.push(json!({
                "op": "replace",
                "path": "/attributes/purchasable_offer",
                "value": [{
                    "marketplace_id": self.marketplace(),
                    "currency": price.currency,
                    "our_price": [{ "schedule": [{ "value_with_tax": money::decimal(price.cents) }] }],
                }],
            }));
        }
        if let Some(quantity) = update.quantity {
            patches.push(json!({
                "op": "replace",
                "path": "/attributes/fulfillment_availability",
                "value": [{ "fulfillment_channel_code": "DEFAULT", "quantity": quantity }],
            }));
        }
        patches
    }
}

/// The first `value` of a text attribute (`[{"value": …, "language_tag": …}]`).
fn attribute_text(attributes: &serde_json::Map<String, Value>, name: &str) -> Option<String> {
    attributes
        .get(name)?
        .as_array()?
        .iter()
        .find_map(|v| v.get("value")?.as_str().map(str::to_owned))
}

/// The EAN among `externally_assigned_product_identifier` (a 13-digit GTIN counts).
fn ean(attributes: &serde_json::Map<String, Value>) -> Option<String> {
    attributes
        .get("externally_assigned_product_identifier")?
        .as_array()?
        .iter()
        .find_map(|id| {
            let kind = id.get("type")?.as_str()?.to_ascii_lowercase();
            let value = id.get("value")?.as_str()?;
            (kind == "ean" || (kind == "gtin" && value.len() == 13)).then(|| value.to_owned())
        })
}
