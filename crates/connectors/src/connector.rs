//! One place that turns a connection's credentials into a working [`Connector`].

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sm_domain::Platform;
use url::Url;

use crate::sandbox::SandboxSecret;
use crate::{
    amazon, kaufland, shopify, Channel, ChannelError, ChannelOrder, ChannelProduct, Cursor, Hosts,
    ItemOutcome, Limits, ListingUpdate, Page, RetryPolicy, Transport,
};

/// Operator settings for the connectors.
#[derive(Debug, Clone)]
pub struct ConnectorsConfig {
    /// Bounds each HTTP attempt.
    pub timeout: Duration,
    pub retry: RetryPolicy,
    /// The sandbox shops: base URL and shared secret. `None`: sandbox connections fail
    /// with [`ChannelError::SandboxUnavailable`].
    pub sandbox: Option<(Url, SandboxSecret)>,
}

impl Default for ConnectorsConfig {
    fn default() -> Self {
        ConnectorsConfig {
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            sandbox: None,
        }
    }
}

/// A connection's credentials, per platform.
#[derive(Debug, Clone)]
pub enum ConnectionCredentials {
    Shopify(shopify::Credentials),
    Amazon(amazon::Credentials),
    Kaufland(kaufland::Credentials),
}

impl ConnectionCredentials {
    pub fn platform(&self) -> Platform {
        match self {
            ConnectionCredentials::Shopify(_) => Platform::Shopify,
            ConnectionCredentials::Amazon(_) => Platform::Amazon,
            ConnectionCredentials::Kaufland(_) => Platform::Kaufland,
        }
    }
}

/// Built once per process; cheap to clone. Holds what connections of the same account
/// share: the HTTP client, Amazon's token cache and rate buckets, Shopify's cost buckets.
#[derive(Clone, Debug)]
pub struct Connectors {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    transport: Transport,
    sandbox: Option<(Url, SandboxSecret)>,
    shopify: shopify::Shared,
    amazon: amazon::Shared,
    kaufland: kaufland::Shared,
}

impl Connectors {
    pub fn new(config: ConnectorsConfig) -> Self {
        Connectors {
            inner: Arc::new(Inner {
                transport: Transport::new(config.timeout, config.retry),
                sandbox: config.sandbox,
                shopify: shopify::Shared::default(),
                amazon: amazon::Shared::default(),
                kaufland: kaufland::Shared::default(),
            }),
        }
    }

    /// The sandbox's secret, when the operator configured one.
    pub fn sandbox(&self) -> Option<&SandboxSecret> {
        self.inner.sandbox.as_ref().map(|(_, secret)| secret)
    }

    pub fn transport(&self) -> &Transport {
        &self.inner.transport
    }

    /// The hosts for a connection: the vendor's, or the sandbox's for a sandbox connection.
    pub fn hosts(&self, sandbox: bool) -> Result<Hosts, ChannelError> {
        if !sandbox {
            return Ok(Hosts::Vendor);
        }
        match &self.inner.sandbox {
            Some((url, _)) => Ok(Hosts::Sandbox(url.clone())),
            None => Err(ChannelError::SandboxUnavailable),
        }
    }

    /// A connector for one connection.
    pub fn connect(
        &self,
        credentials: ConnectionCredentials,
        sandbox: bool,
    ) -> Result<Connector, ChannelError> {
        let hosts = self.hosts(sandbox)?;
        let transport = self.inner.transport.clone();
        Ok(match credentials {
            ConnectionCredentials::Shopify(c) => Connector::Shopify(shopify::Client::new(
                transport,
                &hosts,
                c,
                &self.inner.shopify,
            )?),
            ConnectionCredentials::Amazon(c) => Connector::Amazon(amazon::Client::new(
                transport,
                &hosts,
                c,
                &self.inner.amazon,
            )),
            ConnectionCredentials::Kaufland(c) => Connector::Kaufland(kaufland::Client::new(
                transport,
                &hosts,
                c,
                &self.inner.kaufland,
            )),
        })
    }
}

/// A channel client of any platform.
pub enum Connector {
    Shopify(shopify::Client),
    Amazon(amazon::Client),
    Kaufland(kaufland::Client),
}

impl Connector {
    fn channel(&self) -> &dyn Channel {
        match self {
            Connector::Shopify(c) => c,
            Connector::Amazon(c) => c,
            Connector::Kaufland(c) => c,
        }
    }
}

#[async_trait]
impl Channel for Connector {
    fn platform(&self) -> Platform {
        self.channel().platform()
    }

    fn limits(&self) -> Limits {
        self.channel().limits()
    }

    async fn check_credentials(&self) -> Result<String, ChannelError> {
        self.channel().check_credentials().await
    }

    async fn products_page(
        &self,
        cursor: Option<&Cursor>,
        page_size: usize,
    ) -> Result<Page<ChannelProduct>, ChannelError> {
        self.channel().products_page(cursor, page_size).await
    }

    async fn products_changed_page(
        &self,
        since: DateTime<Utc>,
        cursor: Option<&Cursor>,
        page_size: usize,
    ) -> Result<Page<ChannelProduct>, ChannelError> {
        self.channel()
            .products_changed_page(since, cursor, page_size)
            .await
    }

    async fn orders_page(
        &self,
        updated_since: DateTime<Utc>,
        cursor: Option<&Cursor>,
        page_size: usize,
    ) -> Result<Page<ChannelOrder>, ChannelError> {
        self.channel()
            .orders_page(updated_since, cursor, page_size)
            .await
    }

    async fn push(&self, updates: &[ListingUpdate]) -> Result<Vec<ItemOutcome>, ChannelError> {
        self.channel().push(updates).await
    }
}
