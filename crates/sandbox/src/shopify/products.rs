//! The catalogue as Shopify shows it: each seeded product is one `Product` with one
//! `ProductVariant` and its `InventoryItem`, all numbered `index + 1`; the shop has one
//! location, "Lager Berlin".

use chrono::{DateTime, Utc};
use serde_json::json;

use super::connection::{paginate, paginate_ids, parse_search, text_matches, time_matches};
use super::execute::Out;
use super::resolve::{
    connection_of, gid, gid_number, leaf, money, str_arg, time, unknown, Args, Ctx, Obj, Resolved,
    CURRENCY,
};
use crate::shops::Product;

pub const LOCATION_ID: u64 = 1;
const LOCATION_NAME: &str = "Lager Berlin";
/// The pictures are 600 × 600 SVGs.
const IMAGE_SIZE: i64 = 600;

fn location_created() -> DateTime<Utc> {
    DateTime::from_timestamp(1_704_067_200, 0).unwrap_or_default()
}

pub fn shop(ctx: &Ctx<'_>, field: &str) -> Resolved {
    let name = ctx.domain.trim_end_matches(".myshopify.com");
    match field {
        "id" => leaf(gid("Shop", 1)),
        "name" => leaf(format!("Sandbox-Shop {name}")),
        "myshopifyDomain" => leaf(ctx.domain),
        "currencyCode" => leaf(CURRENCY),
        "email" | "contactEmail" => leaf(format!("shop@{}", ctx.domain)),
        "ianaTimezone" => leaf("Europe/Berlin"),
        "url" => leaf(format!("https://{}", ctx.domain)),
        _ => unknown(field),
    }
}

/// The product a `gid://shopify/{kind}/{n}` names (Product, ProductVariant and
/// InventoryItem share the number).
pub fn by_gid(ctx: &Ctx<'_>, gid: &str, kind: &str) -> Option<Box<Product>> {
    index_of(ctx, gid, kind).map(|i| Box::new(ctx.shop.product(i)))
}

pub fn index_of(ctx: &Ctx<'_>, gid: &str, kind: &str) -> Option<usize> {
    let n = usize::try_from(gid_number(gid, kind)?).ok()?;
    let index = n.checked_sub(1)?;
    (index < ctx.shop.catalogue.products() && !ctx.shop.removed().contains(&index)).then_some(index)
}

/// `products(first, after, query, sortKey, reverse)`; `query` understands `updated_at`
/// and `created_at` comparisons, `sku:` and `status:`. Removed products are not listed.
pub fn products(ctx: &mut Ctx<'_>, args: &Args) -> Resolved {
    let clauses = parse_search(str_arg(args, "query"));
    let sort = str_arg(args, "sortKey");
    let removed = ctx.shop.removed();
    let count = ctx.shop.catalogue.products();
    // Unfiltered in catalogue order, a page is found by position: reading or listing
    // 100,000 products per page would make a full import quadratic.
    let window = if clauses.is_empty() && sort != "UPDATED_AT" {
        paginate_ids(count, &removed, args)?
    } else {
        let keys = (0..count)
            .filter(|i| !removed.contains(i))
            .filter_map(|i| {
                let p = ctx.shop.product(i);
                let visible = time_matches(&clauses, "updated_at", p.updated_at)
                    && time_matches(&clauses, "created_at", p.seed.created_at)
                    && text_matches(&clauses, "sku", &p.seed.sku)
                    && text_matches(&clauses, "status", "active");
                let key = match sort {
                    "UPDATED_AT" => p.updated_at.timestamp_micros(),
                    // ID, CREATED_AT and the sort keys the sandbox does not model:
                    // catalogue order, which is also creation order.
                    _ => i as i64,
                };
                visible.then_some((key, i))
            })
            .collect();
        paginate(keys, args)?
    };
    let shop = ctx.shop.clone();
    Ok(connection_of(
        "ProductConnection",
        "ProductEdge",
        window,
        |i| Obj::Product(Box::new(shop.product(i))),
    ))
}

pub fn handle(p: &Product) -> String {
    let mut slug = String::new();
    for c in p.seed.title.to_lowercase().chars() {
        match c {
            'ä' => slug.push_str("ae"),
            'ö' => slug.push_str("oe"),
            'ü' => slug.push_str("ue"),
            'ß' => slug.push_str("ss"),
            c if c.is_ascii_alphanumeric() => slug.push(c),
            _ if !slug.ends_with('-') => slug.push('-'),
            _ => {}
        }
    }
    format!("{}-{}", slug.trim_matches('-'), p.seed.index + 1)
}

fn number(p: &Product) -> usize {
    p.seed.index + 1
}

pub fn product(p: &Product, field: &str, args: &Args) -> Resolved {
    let n = number(p);
    let boxed = || Box::new(p.clone());
    match field {
        "id" => leaf(gid("Product", n)),
        "legacyResourceId" => leaf(n.to_string()),
        "title" => leaf(p.seed.title.as_str()),
        "handle" => leaf(handle(p)),
        "descriptionHtml" => leaf(p.seed.description.as_str()),
        "description" => {
            let text = strip_tags(&p.seed.description);
            let limit = args.get("truncateAt").and_then(|v| v.as_u64());
            leaf(match limit {
                Some(limit) => text.chars().take(limit as usize).collect(),
                None => text,
            })
        }
        "status" => leaf("ACTIVE"),
        "vendor" => leaf(p.seed.brand),
        "productType" => leaf(p.seed.category),
        "tags" => leaf(json!([p.seed.category, p.seed.brand])),
        "createdAt" | "publishedAt" => Ok(Out::Leaf(time(p.seed.created_at))),
        "updatedAt" => Ok(Out::Leaf(time(p.updated_at))),
        "totalInventory" => leaf(p.stock),
        "tracksInventory" => leaf(true),
        "onlineStoreUrl" => Ok(Out::Null),
        "featuredImage" => Ok(Out::Object(Obj::Image(boxed(), 1))),
        "featuredMedia" => Ok(Out::Object(Obj::MediaImage(boxed(), 1))),
        "images" | "media" => {
            let keys = (1..=p.seed.image_count).map(|i| (i as i64, i)).collect();
            let window = paginate(keys, args)?;
            Ok(if field == "images" {
                connection_of("ImageConnection", "ImageEdge", window, |i| {
                    Obj::Image(boxed(), i)
                })
            } else {
                connection_of("MediaConnection", "MediaEdge", window, |i| {
                    Obj::MediaImage(boxed(), i)
                })
            })
        }
        "variants" => {
            let window = paginate(vec![(1, p.seed.index)], args)?;
            Ok(connection_of(
                "ProductVariantConnection",
                "ProductVariantEdge",
                window,
                |_| Obj::Variant(boxed()),
            ))
        }
        _ => unknown(field),
    }
}

fn strip_tags(html: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                if !text.ends_with(' ') && !text.is_empty() {
                    text.push(' ');
                }
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.trim().to_owned()
}

pub fn variant(p: &Product, field: &str) -> Resolved {
    let n = number(p);
    let boxed = || Box::new(p.clone());
    match field {
        "id" => leaf(gid("ProductVariant", n)),
        "legacyResourceId" => leaf(n.to_string()),
        "title" => leaf("Default Title"),
        "displayName" => leaf(format!("{} - Default Title", p.seed.title)),
        "sku" => leaf(p.seed.sku.as_str()),
        "barcode" => leaf(p.seed.ean.as_str()),
        "price" => leaf(money(p.price_cents)),
        "compareAtPrice" => Ok(Out::Null),
        "inventoryQuantity" => leaf(p.stock),
        "position" => leaf(1),
        "taxable" => leaf(true),
        "availableForSale" => leaf(p.stock > 0),
        "createdAt" => Ok(Out::Leaf(time(p.seed.created_at))),
        "updatedAt" => Ok(Out::Leaf(time(p.updated_at))),
        "inventoryItem" => Ok(Out::Object(Obj::InventoryItem(boxed()))),
        "product" => Ok(Out::Object(Obj::Product(boxed()))),
        "image" => Ok(Out::Object(Obj::Image(boxed(), 1))),
        _ => unknown(field),
    }
}

pub fn inventory_item(p: &Product, field: &str) -> Resolved {
    let n = number(p);
    match field {
        "id" => leaf(gid("InventoryItem", n)),
        "legacyResourceId" => leaf(n.to_string()),
        "sku" => leaf(p.seed.sku.as_str()),
        "tracked" | "requiresShipping" => leaf(true),
        "createdAt" => Ok(Out::Leaf(time(p.seed.created_at))),
        "updatedAt" => Ok(Out::Leaf(time(p.updated_at))),
        "variant" => Ok(Out::Object(Obj::Variant(Box::new(p.clone())))),
        _ => unknown(field),
    }
}

/// The number of picture `n` of a product (`Image` and `MediaImage` ids).
fn picture_number(p: &Product, n: usize) -> usize {
    number(p) * 10 + n
}

pub fn image_url(ctx: &Ctx<'_>, p: &Product, n: usize) -> String {
    format!("{}/_sandbox/images/{}-{n}.svg", ctx.image_base, p.seed.sku)
}

pub fn image(ctx: &Ctx<'_>, p: &Product, n: usize, field: &str) -> Resolved {
    match field {
        "id" => leaf(gid("ProductImage", picture_number(p, n))),
        "url" => leaf(image_url(ctx, p, n)),
        "altText" => leaf(p.seed.title.as_str()),
        "width" | "height" => leaf(IMAGE_SIZE),
        _ => unknown(field),
    }
}

pub fn media_image(p: &Product, n: usize, field: &str) -> Resolved {
    match field {
        "id" => leaf(gid("MediaImage", picture_number(p, n))),
        "alt" => leaf(p.seed.title.as_str()),
        "mediaContentType" => leaf("IMAGE"),
        "status" => leaf("READY"),
        "mimeType" => leaf("image/svg+xml"),
        "image" => Ok(Out::Object(Obj::Image(Box::new(p.clone()), n))),
        "createdAt" | "updatedAt" => Ok(Out::Leaf(time(p.seed.created_at))),
        _ => unknown(field),
    }
}

pub fn location_gid() -> String {
    gid("Location", LOCATION_ID)
}

pub fn location(field: &str) -> Resolved {
    match field {
        "id" => leaf(location_gid()),
        "legacyResourceId" => leaf(LOCATION_ID.to_string()),
        "name" => leaf(LOCATION_NAME),
        "isActive" | "fulfillsOnlineOrders" | "shipsInventory" => leaf(true),
        "createdAt" | "updatedAt" => Ok(Out::Leaf(time(location_created()))),
        "address" => Ok(Out::Object(Obj::Bag {
            type_name: "LocationAddress",
            fields: vec![
                ("address1", Out::Leaf(json!("Lagerstraße 1"))),
                ("address2", Out::Null),
                ("zip", Out::Leaf(json!("10115"))),
                ("city", Out::Leaf(json!("Berlin"))),
                ("country", Out::Leaf(json!("Germany"))),
                ("countryCode", Out::Leaf(json!("DE"))),
                (
                    "formatted",
                    Out::Leaf(json!(["Lagerstraße 1", "10115 Berlin", "Germany"])),
                ),
            ],
        })),
        _ => unknown(field),
    }
}

pub fn locations(args: &Args) -> Resolved {
    let window = paginate(vec![(LOCATION_ID as i64, LOCATION_ID as usize)], args)?;
    Ok(connection_of(
        "LocationConnection",
        "LocationEdge",
        window,
        |_| Obj::Location,
    ))
}
