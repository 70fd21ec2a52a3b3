//! Which hosts the connectors call: the vendors' own, or the operator's sandbox.

use url::Url;

/// Chosen by the operator (the sandbox URL), never by a merchant's request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hosts {
    /// The vendors' production hosts.
    Vendor,
    /// The sandbox (or a test's stand-in), all three vendors under one base URL:
    /// `{base}/shopify/{shop_domain}`, `{base}/amazon`, `{base}/kaufland`.
    Sandbox(Url),
}

impl Hosts {
    /// `https://{shop}` or the sandbox's stand-in for that shop, without a trailing slash.
    pub fn shopify_shop(&self, shop_domain: &str) -> String {
        match self {
            Hosts::Vendor => format!("https://{shop_domain}"),
            Hosts::Sandbox(base) => format!("{}/shopify/{shop_domain}", trimmed(base)),
        }
    }

    /// The SP-API host of a region (`eu`, `na`, `fe`).
    pub fn amazon_api(&self, region: &str) -> String {
        match self {
            Hosts::Vendor => format!("https://sellingpartnerapi-{region}.amazon.com"),
            Hosts::Sandbox(base) => format!("{}/amazon", trimmed(base)),
        }
    }

    /// Login with Amazon's token endpoint.
    pub fn amazon_token(&self) -> String {
        match self {
            Hosts::Vendor => "https://api.amazon.com/auth/o2/token".to_owned(),
            Hosts::Sandbox(base) => format!("{}/amazon/auth/o2/token", trimmed(base)),
        }
    }

    /// The Seller API v2 base, without a trailing slash.
    pub fn kaufland_api(&self) -> String {
        match self {
            Hosts::Vendor => "https://sellerapi.kaufland.com/v2".to_owned(),
            Hosts::Sandbox(base) => format!("{}/kaufland/v2", trimmed(base)),
        }
    }
}

fn trimmed(base: &Url) -> &str {
    base.as_str().trim_end_matches('/')
}
