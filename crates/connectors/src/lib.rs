//! The shop channels behind one trait: Shopify (Admin GraphQL), Amazon (Selling Partner
//! API) and Kaufland (Seller API v2).
//!
//! [`Connectors`] is built once per process from operator settings and hands out a
//! [`Connector`] per connection. It owns what must be shared between connections of the
//! same account: the HTTP client, Amazon's access-token cache and rate buckets, Shopify's
//! cost-bucket state. A connector only ever talks to the vendor's real hosts, or, for a
//! connection marked as sandbox, to the operator's sandbox URL: no merchant input can
//! choose a host.

mod channel;
mod connector;
mod error;
mod hosts;
pub mod money;
pub mod sandbox;
mod transport;

pub mod amazon;
pub mod kaufland;
pub mod shopify;

pub use channel::{
    orders, products, Channel, ChannelOrder, ChannelProduct, Cursor, ItemOutcome, Limits,
    ListingUpdate, Money, OrderLine, OrderStatus, Page, Rejection, STOCK_CHANGED_AT_CHANNEL,
};
pub use connector::{ConnectionCredentials, Connector, Connectors, ConnectorsConfig};
pub use error::ChannelError;
pub use hosts::Hosts;
pub use transport::{read_body, RetryPolicy, Transport, MAX_ANSWER_BYTES};
