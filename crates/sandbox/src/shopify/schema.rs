//! The slice of the Admin API 2025-01 schema the stand-in serves: type, field and
//! argument names and types exactly as Shopify's schema spells them, so that a query the
//! stand-in accepts is one the real API accepts.

/// One argument of a field; required when its type ends with `!`.
pub struct Arg {
    pub name: &'static str,
    pub ty: &'static str,
}

pub struct FieldDef {
    pub name: &'static str,
    pub ty: &'static str,
    pub args: &'static [Arg],
}

pub struct TypeDef {
    pub name: &'static str,
    pub fields: &'static [FieldDef],
    /// The object types an interface or union stands for (empty for object types).
    pub possible: &'static [&'static str],
}

const fn a(name: &'static str, ty: &'static str) -> Arg {
    Arg { name, ty }
}

const fn f(name: &'static str, ty: &'static str) -> FieldDef {
    FieldDef {
        name,
        ty,
        args: &[],
    }
}

const fn fa(name: &'static str, ty: &'static str, args: &'static [Arg]) -> FieldDef {
    FieldDef { name, ty, args }
}

const fn t(name: &'static str, fields: &'static [FieldDef]) -> TypeDef {
    TypeDef {
        name,
        fields,
        possible: &[],
    }
}

const PAGING: &[Arg] = &[
    a("first", "Int"),
    a("after", "String"),
    a("last", "Int"),
    a("before", "String"),
    a("reverse", "Boolean"),
];

const PRODUCTS_ARGS: &[Arg] = &[
    a("first", "Int"),
    a("after", "String"),
    a("last", "Int"),
    a("before", "String"),
    a("reverse", "Boolean"),
    a("sortKey", "ProductSortKeys"),
    a("query", "String"),
    a("savedSearchId", "ID"),
];

const ORDERS_ARGS: &[Arg] = &[
    a("first", "Int"),
    a("after", "String"),
    a("last", "Int"),
    a("before", "String"),
    a("reverse", "Boolean"),
    a("sortKey", "OrderSortKeys"),
    a("query", "String"),
    a("savedSearchId", "ID"),
];

const LOCATIONS_ARGS: &[Arg] = &[
    a("first", "Int"),
    a("after", "String"),
    a("last", "Int"),
    a("before", "String"),
    a("reverse", "Boolean"),
    a("sortKey", "LocationSortKeys"),
    a("query", "String"),
    a("includeLegacy", "Boolean"),
    a("includeInactive", "Boolean"),
];

const WEBHOOKS_ARGS: &[Arg] = &[
    a("first", "Int"),
    a("after", "String"),
    a("last", "Int"),
    a("before", "String"),
    a("reverse", "Boolean"),
    a("sortKey", "WebhookSubscriptionSortKeys"),
    a("query", "String"),
    a("callbackUrl", "URL"),
    a("format", "WebhookSubscriptionFormat"),
    a("topics", "[WebhookSubscriptionTopic!]"),
];

const ID_ARG: &[Arg] = &[a("id", "ID!")];

const TYPES: &[TypeDef] = &[
    t(
        "QueryRoot",
        &[
            f("shop", "Shop!"),
            f("currentAppInstallation", "AppInstallation!"),
            fa("products", "ProductConnection!", PRODUCTS_ARGS),
            fa("product", "Product", ID_ARG),
            fa("productVariant", "ProductVariant", ID_ARG),
            fa("orders", "OrderConnection!", ORDERS_ARGS),
            fa("order", "Order", ID_ARG),
            fa("locations", "LocationConnection!", LOCATIONS_ARGS),
            fa(
                "webhookSubscriptions",
                "WebhookSubscriptionConnection!",
                WEBHOOKS_ARGS,
            ),
        ],
    ),
    t(
        "Mutation",
        &[
            fa(
                "productVariantsBulkUpdate",
                "ProductVariantsBulkUpdatePayload",
                &[
                    a("variants", "[ProductVariantsBulkInput!]!"),
                    a("productId", "ID!"),
                    a("media", "[CreateMediaInput!]"),
                    a("allowPartialUpdates", "Boolean"),
                ],
            ),
            fa(
                "inventorySetQuantities",
                "InventorySetQuantitiesPayload",
                &[a("input", "InventorySetQuantitiesInput!")],
            ),
            fa(
                "webhookSubscriptionCreate",
                "WebhookSubscriptionCreatePayload",
                &[
                    a("topic", "WebhookSubscriptionTopic!"),
                    a("webhookSubscription", "WebhookSubscriptionInput!"),
                ],
            ),
            fa(
                "webhookSubscriptionDelete",
                "WebhookSubscriptionDeletePayload",
                ID_ARG,
            ),
        ],
    ),
    t(
        "AppInstallation",
        &[f("id", "ID!"), f("accessScopes", "[AccessScope!]!")],
    ),
    t(
        "AccessScope",
        &[f("handle", "String!"), f("description", "String!")],
    ),
    t(
        "Shop",
        &[
            f("id", "ID!"),
            f("name", "String!"),
            f("myshopifyDomain", "String!"),
            f("currencyCode", "CurrencyCode!"),
            f("email", "String!"),
            f("contactEmail", "String!"),
            f("ianaTimezone", "String!"),
            f("url", "URL!"),
        ],
    ),
    t(
        "Product",
        &[
            f("id", "ID!"),
            f("legacyResourceId", "UnsignedInt64!"),
            f("title", "String!"),
            f("handle", "String!"),
            f("descriptionHtml", "HTML!"),
            fa("description", "String!", &[a("truncateAt", "Int")]),
            f("status", "ProductStatus!"),
            f("vendor", "String!"),
            f("productType", "String!"),
            f("tags", "[String!]!"),
            f("createdAt", "DateTime!"),
            f("updatedAt", "DateTime!"),
            f("publishedAt", "DateTime"),
            f("totalInventory", "Int!"),
            f("tracksInventory", "Boolean!"),
            f("onlineStoreUrl", "URL"),
            f("featuredImage", "Image"),
            fa(
                "images",
                "ImageConnection!",
                &[
                    a("first", "Int"),
                    a("after", "String"),
                    a("last", "Int"),
                    a("before", "String"),
                    a("reverse", "Boolean"),
                    a("sortKey", "ProductImageSortKeys"),
                ],
            ),
            f("featuredMedia", "Media"),
            fa(
                "media",
                "MediaConnection!",
                &[
                    a("first", "Int"),
                    a("after", "String"),
                    a("last", "Int"),
                    a("before", "String"),
                    a("reverse", "Boolean"),
                    a("sortKey", "ProductMediaSortKeys"),
                    a("query", "String"),
                ],
            ),
            fa(
                "variants",
                "ProductVariantConnection!",
                &[
                    a("first", "Int"),
                    a("after", "String"),
                    a("last", "Int"),
                    a("before", "String"),
                    a("reverse", "Boolean"),
                    a("sortKey", "ProductVariantSortKeys"),
                ],
            ),
        ],
    ),
    t(
        "ProductVariant",
        &[
            f("id", "ID!"),
            f("legacyResourceId", "UnsignedInt64!"),
            f("title", "String!"),
            f("displayName", "String!"),
            f("sku", "String"),
            f("barcode", "String"),
            f("price", "Money!"),
            f("compareAtPrice", "Money"),
            f("inventoryQuantity", "Int"),
            f("position", "Int!"),
            f("taxable", "Boolean!"),
            f("availableForSale", "Boolean!"),
            f("createdAt", "DateTime!"),
            f("updatedAt", "DateTime!"),
            f("inventoryItem", "InventoryItem!"),
            f("product", "Product!"),
            f("image", "Image"),
        ],
    ),
    t(
        "InventoryItem",
        &[
            f("id", "ID!"),
            f("legacyResourceId", "UnsignedInt64!"),
            f("sku", "String"),
            f("tracked", "Boolean!"),
            f("requiresShipping", "Boolean!"),
            f("createdAt", "DateTime!"),
            f("updatedAt", "DateTime!"),
            f("variant", "ProductVariant!"),
        ],
    ),
    t(
        "Image",
        &[
            f("id", "ID"),
            fa("url", "URL!", &[a("transform", "ImageTransformInput")]),
            f("altText", "String"),
            f("width", "Int"),
            f("height", "Int"),
        ],
    ),
    TypeDef {
        name: "Media",
        fields: &[
            f("id", "ID!"),
            f("alt", "String"),
            f("mediaContentType", "MediaContentType!"),
            f("status", "MediaStatus!"),
        ],
        possible: &["MediaImage"],
    },
    t(
        "MediaImage",
        &[
            f("id", "ID!"),
            f("alt", "String"),
            f("mediaContentType", "MediaContentType!"),
            f("status", "MediaStatus!"),
            f("mimeType", "String"),
            f("image", "Image"),
            f("createdAt", "DateTime!"),
            f("updatedAt", "DateTime!"),
        ],
    ),
    t(
        "Order",
        &[
            f("id", "ID!"),
            f("legacyResourceId", "UnsignedInt64!"),
            f("name", "String!"),
            f("createdAt", "DateTime!"),
            f("updatedAt", "DateTime!"),
            f("processedAt", "DateTime!"),
            f("cancelledAt", "DateTime"),
            f("closed", "Boolean!"),
            f("test", "Boolean!"),
            f("email", "String"),
            f("note", "String"),
            f("currencyCode", "CurrencyCode!"),
            f("displayFinancialStatus", "OrderDisplayFinancialStatus"),
            f("displayFulfillmentStatus", "OrderDisplayFulfillmentStatus!"),
            f("totalPriceSet", "MoneyBag!"),
            f("subtotalPriceSet", "MoneyBag"),
            f("customer", "Customer"),
            f("shippingAddress", "MailingAddress"),
            fa("lineItems", "LineItemConnection!", PAGING),
        ],
    ),
    t(
        "LineItem",
        &[
            f("id", "ID!"),
            f("name", "String!"),
            f("title", "String!"),
            f("sku", "String"),
            f("vendor", "String"),
            f("quantity", "Int!"),
            f("currentQuantity", "Int!"),
            f("originalUnitPriceSet", "MoneyBag!"),
            f("discountedUnitPriceSet", "MoneyBag!"),
            f("originalTotalSet", "MoneyBag!"),
            f("variant", "ProductVariant"),
            f("product", "Product"),
        ],
    ),
    t(
        "Customer",
        &[
            f("id", "ID!"),
            f("firstName", "String"),
            f("lastName", "String"),
            f("displayName", "String!"),
            f("email", "String"),
            f("phone", "String"),
        ],
    ),
    t(
        "MailingAddress",
        &[
            f("id", "ID!"),
            f("firstName", "String"),
            f("lastName", "String"),
            f("name", "String"),
            f("company", "String"),
            f("address1", "String"),
            f("address2", "String"),
            f("zip", "String"),
            f("city", "String"),
            f("country", "String"),
            f("countryCodeV2", "CountryCode"),
            f("phone", "String"),
        ],
    ),
    t(
        "MoneyBag",
        &[
            f("shopMoney", "MoneyV2!"),
            f("presentmentMoney", "MoneyV2!"),
        ],
    ),
    t(
        "MoneyV2",
        &[f("amount", "Decimal!"), f("currencyCode", "CurrencyCode!")],
    ),
    t(
        "PageInfo",
        &[
            f("hasNextPage", "Boolean!"),
            f("hasPreviousPage", "Boolean!"),
            f("startCursor", "String"),
            f("endCursor", "String"),
        ],
    ),
    t(
        "Location",
        &[
            f("id", "ID!"),
            f("legacyResourceId", "UnsignedInt64!"),
            f("name", "String!"),
            f("isActive", "Boolean!"),
            f("fulfillsOnlineOrders", "Boolean!"),
            f("shipsInventory", "Boolean!"),
            f("createdAt", "DateTime!"),
            f("updatedAt", "DateTime!"),
            f("address", "LocationAddress!"),
        ],
    ),
    t(
        "LocationAddress",
        &[
            f("address1", "String"),
            f("address2", "String"),
            f("zip", "String"),
            f("city", "String"),
            f("country", "String"),
            f("countryCode", "String"),
            f("formatted", "[String!]!"),
        ],
    ),
    t(
        "WebhookSubscription",
        &[
            f("id", "ID!"),
            f("legacyResourceId", "UnsignedInt64!"),
            f("topic", "WebhookSubscriptionTopic!"),
            f("format", "WebhookSubscriptionFormat!"),
            f("endpoint", "WebhookSubscriptionEndpoint!"),
            f("callbackUrl", "URL!"),
            f("apiVersion", "ApiVersion!"),
            f("includeFields", "[String!]!"),
            f("metafieldNamespaces", "[String!]!"),
            f("filter", "String"),
            f("createdAt", "DateTime!"),
            f("updatedAt", "DateTime!"),
        ],
    ),
    TypeDef {
        name: "WebhookSubscriptionEndpoint",
        fields: &[],
        possible: &["WebhookHttpEndpoint"],
    },
    t("WebhookHttpEndpoint", &[f("callbackUrl", "URL!")]),
    t(
        "ApiVersion",
        &[
            f("handle", "String!"),
            f("displayName", "String!"),
            f("supported", "Boolean!"),
        ],
    ),
    t(
        "ProductVariantsBulkUpdatePayload",
        &[
            f("product", "Product"),
            f("productVariants", "[ProductVariant!]"),
            f("userErrors", "[ProductVariantsBulkUpdateUserError!]!"),
        ],
    ),
    t(
        "ProductVariantsBulkUpdateUserError",
        &[
            f("field", "[String!]"),
            f("message", "String!"),
            f("code", "ProductVariantsBulkUpdateUserErrorCode"),
        ],
    ),
    t(
        "InventorySetQuantitiesPayload",
        &[
            f("inventoryAdjustmentGroup", "InventoryAdjustmentGroup"),
            f("userErrors", "[InventorySetQuantitiesUserError!]!"),
        ],
    ),
    t(
        "InventorySetQuantitiesUserError",
        &[
            f("field", "[String!]"),
            f("message", "String!"),
            f("code", "InventorySetQuantitiesUserErrorCode"),
        ],
    ),
    t(
        "InventoryAdjustmentGroup",
        &[
            f("id", "ID!"),
            f("createdAt", "DateTime!"),
            f("reason", "String!"),
            f("referenceDocumentUri", "String"),
            fa(
                "changes",
                "[InventoryChange!]!",
                &[
                    a("inventoryItemIds", "[ID!]"),
                    a("locationIds", "[ID!]"),
                    a("quantityNames", "[String!]"),
                ],
            ),
        ],
    ),
    t(
        "InventoryChange",
        &[
            f("name", "String!"),
            f("delta", "Int!"),
            f("quantityAfterChange", "Int"),
            f("ledgerDocumentUri", "String"),
            f("item", "InventoryItem"),
            f("location", "Location"),
        ],
    ),
    t(
        "WebhookSubscriptionCreatePayload",
        &[
            f("webhookSubscription", "WebhookSubscription"),
            f("userErrors", "[UserError!]!"),
        ],
    ),
    t(
        "WebhookSubscriptionDeletePayload",
        &[
            f("deletedWebhookSubscriptionId", "ID"),
            f("userErrors", "[UserError!]!"),
        ],
    ),
    t(
        "UserError",
        &[f("field", "[String!]"), f("message", "String!")],
    ),
];

/// Connection types: (connection, edge, node).
const CONNECTIONS: &[(&str, &str, &str)] = &[
    ("ProductConnection", "ProductEdge", "Product"),
    (
        "ProductVariantConnection",
        "ProductVariantEdge",
        "ProductVariant",
    ),
    ("ImageConnection", "ImageEdge", "Image"),
    ("MediaConnection", "MediaEdge", "Media"),
    ("OrderConnection", "OrderEdge", "Order"),
    ("LineItemConnection", "LineItemEdge", "LineItem"),
    ("LocationConnection", "LocationEdge", "Location"),
    (
        "WebhookSubscriptionConnection",
        "WebhookSubscriptionEdge",
        "WebhookSubscription",
    ),
];

/// What selecting a field gives, for validation and cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Scalars and enums: no selection, cost 0.
    Leaf,
    /// An object, interface or union: a selection, cost 1.
    Object,
    /// A connection: a selection, cost 2 + first × the cost of a node.
    Connection,
    /// A connection's edges or nodes: each element costs as a node.
    Elements,
    /// A connection's `edges[].cursor`-holding edge or `pageInfo`: free.
    Free,
}

/// A field as seen from its parent type.
pub struct Field {
    /// The field's type as the schema prints it (`[ProductEdge!]!`).
    pub ty: String,
    /// The named type under the list and non-null wrappers.
    pub named: String,
    pub shape: Shape,
    pub args: &'static [Arg],
}

/// The field `name` of type `parent`, or `None` when the schema has no such field.
pub fn field(parent: &str, name: &str) -> Option<Field> {
    if name == "__typename" {
        return Some(leaf("String!".to_owned(), &[]));
    }
    if let Some((_, edge, node)) = CONNECTIONS.iter().find(|(c, ..)| *c == parent) {
        return match name {
            "edges" => Some(described(format!("[{edge}!]!"), Shape::Elements, &[])),
            "nodes" => Some(described(format!("[{node}!]!"), Shape::Elements, &[])),
            "pageInfo" => Some(described("PageInfo!".to_owned(), Shape::Free, &[])),
            _ => None,
        };
    }
    if let Some((_, _, node)) = CONNECTIONS.iter().find(|(_, e, _)| *e == parent) {
        return match name {
            "cursor" => Some(leaf("String!".to_owned(), &[])),
            // The edge itself is free; its node is what the edges cost.
            "node" => Some(described(format!("{node}!"), Shape::Object, &[])),
            _ => None,
        };
    }
    let def = TYPES.iter().find(|t| t.name == parent)?;
    let field = def.fields.iter().find(|f| f.name == name)?;
    Some(described(
        field.ty.to_owned(),
        shape_of(field.ty),
        field.args,
    ))
}

fn leaf(ty: String, args: &'static [Arg]) -> Field {
    described(ty, Shape::Leaf, args)
}

fn described(ty: String, shape: Shape, args: &'static [Arg]) -> Field {
    let named = named(&ty).to_owned();
    Field {
        ty,
        named,
        shape,
        args,
    }
}

fn shape_of(ty: &str) -> Shape {
    let named = named(ty);
    if CONNECTIONS.iter().any(|(c, ..)| *c == named) {
        Shape::Connection
    } else if named == "PageInfo" {
        Shape::Free
    } else if is_composite(named) {
        Shape::Object
    } else {
        Shape::Leaf
    }
}

/// `[ProductEdge!]!` → `ProductEdge`.
pub fn named(ty: &str) -> &str {
    ty.trim_matches(|c| c == '[' || c == ']' || c == '!')
}

/// True for types that need a selection (objects, interfaces, unions, connections).
pub fn is_composite(named: &str) -> bool {
    TYPES.iter().any(|t| t.name == named)
        || CONNECTIONS
            .iter()
            .any(|(c, e, _)| *c == named || *e == named)
}

/// True when an object of type `object` matches a fragment on `condition`.
pub fn fits(object: &str, condition: &str) -> bool {
    object == condition
        || TYPES
            .iter()
            .any(|t| t.name == condition && t.possible.contains(&object))
}

/// True when a fragment on `condition` can apply inside a selection on `parent`.
pub fn overlaps(parent: &str, condition: &str) -> bool {
    fits(parent, condition) || fits(condition, parent) || {
        let members = |n: &str| {
            TYPES
                .iter()
                .find(|t| t.name == n)
                .map(|t| t.possible)
                .unwrap_or(&[])
        };
        members(parent)
            .iter()
            .any(|m| members(condition).contains(m))
    }
}
