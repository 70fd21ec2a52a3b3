//! Domain types more than one service speaks about. No HTTP, no SQL.

mod currency;
mod introspection;
mod language;
mod platform;
mod role;

pub use currency::{currency_codes, is_currency_code};
pub use introspection::Introspection;
pub use language::Language;
pub use platform::Platform;
pub use role::Role;
