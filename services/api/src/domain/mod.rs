//! Rules and validated values of the business domain; no HTTP, no SQL.

pub mod credentials;
pub mod cursor;
pub mod product;
pub mod product_csv;
pub mod profile;
pub mod text;
pub mod vat_id;
