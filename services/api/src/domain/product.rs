//! Product fields and their rules.

use serde::{Deserialize, Serialize};
use sm_http::FieldError;
use utoipa::ToSchema;
use uuid::Uuid;

use super::text;

pub const MAX_PRICE_CENTS: i64 = 10_000_000_000; // 100 million in major units
pub const MAX_STOCK: i32 = 1_000_000_000;
pub const MAX_IMAGES: usize = 20;

/// An amount of money: integer minor units (cents) and an ISO 4217 code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Money {
    #[schema(example = 1999, minimum = 0, maximum = 10_000_000_000_i64)]
    pub amount: i64,
    #[schema(example = "EUR", schema_with = currency_codes)]
    pub currency: String,
}

/// The currencies the API accepts, as an enum in the document.
pub fn currency_codes() -> utoipa::openapi::Object {
    sm_http::openapi::string_enum(sm_domain::currency_codes())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ProductInput {
    /// 1 to 100 characters, no control characters.
    #[schema(
        example = "TSHIRT-BLK-M",
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub sku: String,
    /// 1 to 500 characters, no control characters.
    #[schema(
        example = "T-Shirt schwarz, M",
        min_length = 1,
        max_length = 500,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub title: String,
    /// Up to 20,000 characters.
    #[serde(default)]
    #[schema(max_length = 20000)]
    pub description: String,
    pub price: Money,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub stock: i32,
    /// Up to 20 image URLs (http or https).
    #[serde(default)]
    #[schema(max_items = 20)]
    pub images: Vec<String>,
    /// The channel the product belongs to; none for cockpit-only products. Fixed at creation.
    #[serde(default)]
    pub connection_id: Option<Uuid>,
}

/// Checked product fields, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductFields {
    pub sku: String,
    pub title: String,
    pub description: String,
    pub price_cents: i64,
    pub currency: String,
    pub stock: i32,
    pub images: Vec<String>,
}

pub fn check_sku(raw: &str) -> Result<String, FieldError> {
    text::required("sku", raw, 100)
}

pub fn check_price(field: &'static str, cents: i64) -> Result<i64, FieldError> {
    if (0..=MAX_PRICE_CENTS).contains(&cents) {
        Ok(cents)
    } else {
        Err(FieldError::new(
            field,
            "out_of_range",
            "Prices are whole cents from 0 to 10,000,000,000.",
        ))
    }
}

pub fn check_stock(field: &'static str, stock: i64) -> Result<i32, FieldError> {
    if (0..=i64::from(MAX_STOCK)).contains(&stock) {
        Ok(stock as i32)
    } else {
        Err(FieldError::new(
            field,
            "out_of_range",
            "Stock is a whole number from 0 to 1,000,000,000.",
        ))
    }
}

pub fn check_currency(raw: &str) -> Result<String, FieldError> {
    let code = raw.trim().to_ascii_uppercase();
    if sm_domain::is_currency_code(&code) {
        Ok(code)
    } else {
        Err(FieldError::new(
            "price.currency",
            "invalid_currency",
            "Use an ISO 4217 currency code such as EUR.",
        ))
    }
}

fn check_images(images: &[String]) -> Result<Vec<String>, FieldError> {
    if images.len() > MAX_IMAGES {
        return Err(FieldError::new(
            "images",
            "too_many",
            format!("At most {MAX_IMAGES} images."),
        ));
    }
    images
        .iter()
        .map(|url| {
            let url = url.trim();
            let ok = (url.starts_with("https://") || url.starts_with("http://"))
                && url.len() <= 2048
                && url.len() > "https://".len()
                // `|` separates images in CSV files.
                && !url.chars().any(|c| c.is_whitespace() || c.is_control() || c == '|');
            if ok {
                Ok(url.to_owned())
            } else {
                Err(FieldError::new(
                    "images",
                    "invalid_url",
                    "Images are http(s) URLs.",
                ))
            }
        })
        .collect()
}

impl ProductFields {
    pub fn parse(input: &ProductInput) -> Result<Self, Vec<FieldError>> {
        let results = (
            check_sku(&input.sku),
            text::required("title", &input.title, 500),
            text::clean("description", &input.description, 20_000, true),
            check_price("price.amount", input.price.amount),
            check_currency(&input.price.currency),
            check_stock("stock", i64::from(input.stock)),
            check_images(&input.images),
        );
        match results {
            (
                Ok(sku),
                Ok(title),
                Ok(description),
                Ok(price_cents),
                Ok(currency),
                Ok(stock),
                Ok(images),
            ) => Ok(ProductFields {
                sku,
                title,
                description,
                price_cents,
                currency,
                stock,
                images,
            }),
            (a, b, c, d, e, f, g) => Err([
                a.err(),
                b.err(),
                c.err(),
                d.err(),
                e.err(),
                f.err(),
                g.err(),
            ]
            .into_iter()
            .flatten()
            .collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: serde_json::Value) -> ProductInput {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_good_product_parses() {
        let p = ProductFields::parse(&input(serde_json::json!({
            "sku": " SKU-1 ", "title": "Kaffeebecher", "price": { "amount": 1299, "currency": "eur" }, "stock": 5,
            "images": ["https://cdn.example.de/a.jpg"]
        })))
        .unwrap();
        assert_eq!(
            (p.sku.as_str(), p.price_cents, p.currency.as_str(), p.stock),
            ("SKU-1", 1299, "EUR", 5)
        );
    }

    #[test]
    fn every_bad_field_is_reported() {
        let errors = ProductFields::parse(&input(serde_json::json!({
            "sku": "", "title": "", "price": { "amount": -1, "currency": "Euro" }, "stock": -3,
            "images": ["javascript:alert(1)"]
        })))
        .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_ref()).collect();
        assert_eq!(
            fields,
            [
                "sku",
                "title",
                "price.amount",
                "price.currency",
                "stock",
                "images"
            ]
        );
    }
}
