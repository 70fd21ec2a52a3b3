//! Who is calling a ShopMarkets service.
//!
//! Only the security service can tell whether an access token is valid (it alone holds the
//! JWT secret and knows which sessions have ended), so [`SecurityClient`] asks it — `POST
//! /api/auth/introspect` with the shared service credential — and caches a positive answer
//! briefly. Handlers take an [`AuthUser`] argument; the extractor answers 401 for a missing or
//! inactive token and 503 when the security service cannot be reached.

mod client;
mod config;
mod extract;

pub use client::{Introspection, SecurityClient};
pub use config::AuthClientArgs;
pub use extract::AuthUser;
pub use sm_domain::Role;
