//! The objects a query reaches and the dispatch from (object, field) to the code that
//! answers it; the vendor mapping itself sits in `products`, `orders`, `mutations` and
//! `webhooks`.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value as Json};

use super::execute::Out;
use super::query::Kind;
use super::state::Subscription;
use super::{mutations, oauth, orders, products, webhooks};
use crate::catalogue::SeedOrder;
use crate::shops::{Product, Shop};
use crate::Sandbox;

/// What the resolvers of one request share.
pub struct Ctx<'a> {
    pub sandbox: &'a Sandbox,
    pub shop: Arc<Shop>,
    /// The shop's myshopify domain.
    pub domain: &'a str,
    /// Where product pictures are served, without a trailing slash.
    pub image_base: String,
    /// Products this request's mutations changed (for `products/update` webhooks).
    pub changed: Vec<usize>,
}

/// An object of the answer. Catalogue objects are resolved field by field; small ones
/// (payloads, money, page info) are built whole as a [`Obj::Bag`].
#[derive(Debug, Clone)]
pub enum Obj {
    Root(Kind),
    Shop,
    Product(Box<Product>),
    Variant(Box<Product>),
    InventoryItem(Box<Product>),
    /// Picture `n` (1-based) of a product, as `Image` or as `MediaImage`.
    Image(Box<Product>, usize),
    MediaImage(Box<Product>, usize),
    Order(Box<SeedOrder>),
    LineItem(Box<SeedOrder>, usize),
    Customer(Box<SeedOrder>),
    Address(Box<SeedOrder>),
    Location,
    WebhookSubscription(Box<Subscription>),
    Connection(Box<Connection>),
    Edge {
        type_name: &'static str,
        cursor: String,
        node: Box<Obj>,
    },
    Bag {
        type_name: &'static str,
        fields: Vec<(&'static str, Out)>,
    },
}

#[derive(Debug, Clone)]
pub struct Connection {
    pub type_name: &'static str,
    pub edge_type: &'static str,
    pub items: Vec<(String, Obj)>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
}

impl Obj {
    pub fn type_name(&self) -> &'static str {
        match self {
            Obj::Root(Kind::Query) => "QueryRoot",
            Obj::Root(Kind::Mutation) => "Mutation",
            Obj::Shop => "Shop",
            Obj::Product(_) => "Product",
            Obj::Variant(_) => "ProductVariant",
            Obj::InventoryItem(_) => "InventoryItem",
            Obj::Image(..) => "Image",
            Obj::MediaImage(..) => "MediaImage",
            Obj::Order(_) => "Order",
            Obj::LineItem(..) => "LineItem",
            Obj::Customer(_) => "Customer",
            Obj::Address(_) => "MailingAddress",
            Obj::Location => "Location",
            Obj::WebhookSubscription(_) => "WebhookSubscription",
            Obj::Connection(c) => c.type_name,
            Obj::Edge { type_name, .. } | Obj::Bag { type_name, .. } => type_name,
        }
    }

    /// What returning this object costs: connections 2, edges and page info nothing,
    /// every other object 1.
    pub fn cost(&self) -> u64 {
        match self {
            Obj::Connection(_) => 2,
            Obj::Root(_) | Obj::Edge { .. } => 0,
            Obj::Bag { type_name, .. } if *type_name == "PageInfo" => 0,
            _ => 1,
        }
    }
}

pub type Args = Map<String, Json>;
pub type Resolved = Result<Out, String>;

/// The value of `field` on `obj`. Static analysis has checked the field exists.
pub fn field(ctx: &mut Ctx<'_>, obj: &Obj, field: &str, args: &Args) -> Resolved {
    match obj {
        Obj::Root(Kind::Query) => query_root(ctx, field, args),
        Obj::Root(Kind::Mutation) => mutations::resolve(ctx, field, args),
        Obj::Shop => products::shop(ctx, field),
        Obj::Product(p) => products::product(p, field, args),
        Obj::Variant(p) => products::variant(p, field),
        Obj::InventoryItem(p) => products::inventory_item(p, field),
        Obj::Image(p, n) => products::image(ctx, p, *n, field),
        Obj::MediaImage(p, n) => products::media_image(p, *n, field),
        Obj::Order(o) => orders::order(o, field, args),
        Obj::LineItem(o, line) => orders::line_item(ctx, o, *line, field),
        Obj::Customer(o) => orders::customer(o, field),
        Obj::Address(o) => orders::address(o, field),
        Obj::Location => products::location(field),
        Obj::WebhookSubscription(s) => webhooks::subscription_field(s, field),
        Obj::Connection(c) => connection(c, field),
        Obj::Edge { cursor, node, .. } => match field {
            "cursor" => leaf(cursor.as_str()),
            "node" => Ok(Out::Object((**node).clone())),
            _ => unknown(field),
        },
        Obj::Bag { fields, .. } => Ok(fields
            .iter()
            .find(|(name, _)| *name == field)
            .map(|(_, out)| out.clone())
            .unwrap_or(Out::Null)),
    }
}

fn query_root(ctx: &mut Ctx<'_>, field: &str, args: &Args) -> Resolved {
    match field {
        "shop" => Ok(Out::Object(Obj::Shop)),
        "currentAppInstallation" => Ok(Out::Object(oauth::app_installation(ctx))),
        "products" => products::products(ctx, args),
        "product" => Ok(products::by_gid(ctx, str_arg(args, "id"), "Product")
            .map_or(Out::Null, |p| Out::Object(Obj::Product(p)))),
        "productVariant" => Ok(products::by_gid(ctx, str_arg(args, "id"), "ProductVariant")
            .map_or(Out::Null, |p| Out::Object(Obj::Variant(p)))),
        "orders" => orders::orders(ctx, args),
        "order" => Ok(orders::by_gid(ctx, str_arg(args, "id"))
            .map_or(Out::Null, |o| Out::Object(Obj::Order(o)))),
        "locations" => products::locations(args),
        "webhookSubscriptions" => webhooks::subscriptions(ctx, args),
        _ => unknown(field),
    }
}

fn connection(c: &Connection, field: &str) -> Resolved {
    match field {
        "nodes" => Ok(Out::List(c.items.iter().map(|(_, o)| o.clone()).collect())),
        "edges" => Ok(Out::List(
            c.items
                .iter()
                .map(|(cursor, node)| Obj::Edge {
                    type_name: c.edge_type,
                    cursor: cursor.clone(),
                    node: Box::new(node.clone()),
                })
                .collect(),
        )),
        "pageInfo" => Ok(Out::Object(Obj::Bag {
            type_name: "PageInfo",
            fields: vec![
                ("hasNextPage", Out::Leaf(json!(c.has_next_page))),
                ("hasPreviousPage", Out::Leaf(json!(c.has_previous_page))),
                (
                    "startCursor",
                    Out::Leaf(json!(c.items.first().map(|(cursor, _)| cursor))),
                ),
                (
                    "endCursor",
                    Out::Leaf(json!(c.items.last().map(|(cursor, _)| cursor))),
                ),
            ],
        })),
        _ => unknown(field),
    }
}

/// A connection over the window `paginate` chose.
pub fn connection_of(
    type_name: &'static str,
    edge_type: &'static str,
    window: super::connection::Window,
    node: impl Fn(usize) -> Obj,
) -> Out {
    Out::Object(Obj::Connection(Box::new(Connection {
        type_name,
        edge_type,
        items: window
            .items
            .into_iter()
            .map(|(cursor, id)| (cursor, node(id)))
            .collect(),
        has_next_page: window.has_next_page,
        has_previous_page: window.has_previous_page,
    })))
}

/// Only reached when the schema table lists a field no resolver answers.
pub fn unknown(field: &str) -> Resolved {
    Err(format!("Field '{field}' is not served by the sandbox"))
}

pub fn leaf(value: impl Into<Json>) -> Resolved {
    Ok(Out::Leaf(value.into()))
}

pub fn str_arg<'a>(args: &'a Args, name: &str) -> &'a str {
    args.get(name).and_then(Json::as_str).unwrap_or_default()
}

/// `gid://shopify/{kind}/{n}`.
pub fn gid(kind: &str, n: impl std::fmt::Display) -> String {
    format!("gid://shopify/{kind}/{n}")
}

/// The number of a `gid://shopify/{kind}/{n}`.
pub fn gid_number(gid: &str, kind: &str) -> Option<u64> {
    gid.strip_prefix("gid://shopify/")?
        .strip_prefix(kind)?
        .strip_prefix('/')?
        .parse()
        .ok()
}

/// Shopify's timestamps: UTC, whole seconds.
pub fn time(at: DateTime<Utc>) -> Json {
    json!(at.to_rfc3339_opts(SecondsFormat::Secs, true))
}

/// Money as a decimal string ("19.99").
pub fn money(cents: i64) -> String {
    sm_connectors::money::decimal(cents)
}

/// A `MoneyBag` in euros (shop and presentment currency are the same).
pub fn money_bag(cents: i64) -> Out {
    let v2 = Obj::Bag {
        type_name: "MoneyV2",
        fields: vec![
            ("amount", Out::Leaf(json!(money(cents)))),
            ("currencyCode", Out::Leaf(json!(CURRENCY))),
        ],
    };
    Out::Object(Obj::Bag {
        type_name: "MoneyBag",
        fields: vec![
            ("shopMoney", Out::Object(v2.clone())),
            ("presentmentMoney", Out::Object(v2)),
        ],
    })
}

pub const CURRENCY: &str = "EUR";
