//! Who is calling a ShopMarkets service.
//!
//! Only the security service can tell whether an access token is valid (it alone holds the
//! JWT secret and knows which sessions have ended), so [`SecurityClient`] asks it — `POST
//! /api/auth/introspect` with the shared service credential — and caches the answer briefly
//! (a positive one for the cache window, a negative one for a shorter one; concurrent checks
//! of one token share one call). Handlers take an [`AuthUser`] argument; the extractor answers
//! 401 for a missing or inactive token, 429 to a client network with too many of those, and
//! 503 when the security service cannot be reached (never cached).

mod client;
mod config;
mod extract;
mod failures;

pub use client::{Introspection, SecurityClient};
pub use config::AuthClientArgs;
pub use extract::AuthUser;
pub use sm_domain::Role;
