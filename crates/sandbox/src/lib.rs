//! Stand-in servers for Shopify, Amazon SP-API and Kaufland, speaking each vendor's
//! documented contract (paths, auth headers and signatures, pagination, error bodies,
//! throttling) over a seeded German catalogue. The tests run them as peers of the
//! connectors; the `sandbox` binary serves them as the sandbox shops of a fresh install.
//!
//! Every tenant (a sandbox connection) has its own shop; credentials are derived from the
//! shared [`SandboxSecret`] and checked on every request like the vendors check theirs.

pub mod amazon;
pub mod catalogue;
pub mod faults;
mod images;
pub mod kaufland;
pub mod shopify;
pub mod shops;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use http::StatusCode;
use serde::Deserialize;
use sm_connectors::sandbox::SandboxSecret;
use url::Url;

use catalogue::{Catalogue, CatalogueSize};
use faults::{Fault, Faults, Vendor};
use shops::{Shop, Shops};

/// How the sandbox behaves.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    pub secret: SandboxSecret,
    pub size: CatalogueSize,
    /// Seeds every tenant's catalogue: the articles alone, their prices, stock and the
    /// order book mixed with the tenant's id.
    pub seed: u64,
    /// Multiplies the vendors' documented rates (Shopify's restore rate, Amazon's
    /// per-operation rates, Kaufland's 111/s): 1 is the real pace, 10 ten times faster.
    pub rate_scale: f64,
    /// How long a `timeout` fault holds the answer back.
    pub fault_delay: Duration,
    /// Serves `POST`/`DELETE /_sandbox/faults`; off, the route answers 404. It has no
    /// credentials and acts on every tenant, so it is for local use only (`cargo xtask
    /// up`); in-process callers use [`Sandbox::faults`] either way.
    pub fault_switch: bool,
    /// Where shoppers' browsers reach the sandbox (for image URLs); the request's Host
    /// when `None`.
    pub public_url: Option<Url>,
}

impl SandboxConfig {
    pub fn new(secret: SandboxSecret) -> Self {
        SandboxConfig {
            secret,
            size: CatalogueSize {
                products: 1_000,
                orders: 500,
            },
            seed: 2026,
            rate_scale: 1.0,
            fault_delay: Duration::from_secs(60),
            fault_switch: false,
            public_url: None,
        }
    }
}

/// The sandbox's shared state; cheap to clone.
#[derive(Clone, Debug)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: SandboxConfig,
    /// "Now" for every order book: fixed at start so pages stay stable while read.
    anchor: DateTime<Utc>,
    faults: Faults,
    shops: Shops,
}

impl Sandbox {
    pub fn new(config: SandboxConfig) -> Self {
        Sandbox {
            inner: Arc::new(Inner {
                config,
                anchor: Utc::now(),
                faults: Faults::default(),
                shops: Shops::default(),
            }),
        }
    }

    pub fn config(&self) -> &SandboxConfig {
        &self.inner.config
    }

    pub fn secret(&self) -> &SandboxSecret {
        &self.inner.config.secret
    }

    pub fn faults(&self) -> &Faults {
        &self.inner.faults
    }

    /// A tenant's shop at a vendor, seeded on first use.
    pub fn shop(&self, vendor: Vendor, tenant: &str) -> Arc<Shop> {
        self.inner.shops.get_or_create(vendor, tenant, || {
            Catalogue::new(
                self.inner.config.seed,
                self.inner.config.size,
                self.inner.anchor,
            )
            .for_tenant(fnv1a(tenant.as_bytes()))
        })
    }

    /// The shop that the sandbox credentials of `tenant` (a sandbox connection's id) open
    /// at `vendor`. Shops are kept by the vendor's account (Shopify's domain, Amazon's
    /// seller id, Kaufland's client key), which the credentials derive from the tenant.
    pub fn tenant_shop(&self, vendor: Vendor, tenant: &str) -> Arc<Shop> {
        let secret = self.secret();
        let account = match vendor {
            Vendor::Shopify => secret.shopify_shop(tenant),
            Vendor::Amazon => secret.amazon_seller(tenant),
            Vendor::Kaufland => secret.kaufland_client_key(tenant),
        };
        self.shop(vendor, &account)
    }

    /// Where the caller reaches the sandbox, for picture links: the configured public URL,
    /// else the request's `Host`.
    pub fn image_base(&self, headers: &http::HeaderMap) -> String {
        match &self.inner.config.public_url {
            Some(url) => url.as_str().trim_end_matches('/').to_owned(),
            None => format!(
                "http://{}",
                headers
                    .get(http::header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or("localhost")
            ),
        }
    }

    /// A documented rate scaled by the sandbox's `rate_scale`.
    pub fn rate(&self, documented_per_second: f64) -> f64 {
        documented_per_second * self.inner.config.rate_scale
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

/// All three stand-ins, the fault switch (when enabled) and the product pictures.
pub fn router(sandbox: Sandbox) -> Router {
    let router = Router::new()
        .nest(
            "/shopify/{shop}",
            with_faults(shopify::router(), &sandbox, Vendor::Shopify),
        )
        .nest(
            "/amazon",
            with_faults(amazon::router(), &sandbox, Vendor::Amazon),
        )
        .nest(
            "/kaufland/v2",
            with_faults(kaufland::router(), &sandbox, Vendor::Kaufland),
        )
        // Nothing to wait for: ready as soon as it listens.
        .route("/health/live", get(|| async { StatusCode::NO_CONTENT }))
        .route("/health/ready", get(|| async { StatusCode::NO_CONTENT }))
        .merge(images::router());
    let router = if sandbox.config().fault_switch {
        router
            .route("/_sandbox/faults", post(inject_faults).delete(clear_faults))
            .route("/_sandbox/orders", post(place_order))
            .route("/_sandbox/shopify/{tenant}/usage", get(shopify_usage))
    } else {
        router
    };
    router.with_state(sandbox)
}

fn with_faults(router: Router<Sandbox>, sandbox: &Sandbox, vendor: Vendor) -> Router<Sandbox> {
    router.layer(axum::middleware::from_fn_with_state(
        (sandbox.clone(), vendor),
        apply_fault,
    ))
}

async fn apply_fault(
    State((sandbox, vendor)): State<(Sandbox, Vendor)>,
    request: Request,
    next: Next,
) -> Response {
    let Some(fault) = sandbox.faults().take(vendor) else {
        return next.run(request).await;
    };
    tracing::info!(?vendor, ?fault, "sandbox fault injected");
    match fault {
        Fault::Timeout => {
            tokio::time::sleep(sandbox.config().fault_delay).await;
            next.run(request).await
        }
        Fault::ServerError | Fault::Throttle => match vendor {
            Vendor::Shopify => shopify::fault_answer(fault),
            Vendor::Amazon => amazon::fault_answer(fault),
            Vendor::Kaufland => kaufland::fault_answer(fault),
        },
        Fault::Malformed => {
            let (parts, body) = next.run(request).await.into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            let cut = bytes.slice(..bytes.len() / 2);
            let mut response = Response::from_parts(parts, axum::body::Body::from(cut));
            response.headers_mut().remove(http::header::CONTENT_LENGTH);
            response
        }
    }
}

#[derive(Deserialize)]
struct InjectFaults {
    vendor: Vendor,
    fault: Fault,
    #[serde(default = "one")]
    times: usize,
}

fn one() -> usize {
    1
}

/// `POST /_sandbox/faults {"vendor": "shopify", "fault": "server_error", "times": 3}`:
/// 204, or 400 (nothing queued) when the vendor would have more than
/// [`faults::MAX_QUEUED`] faults queued.
async fn inject_faults(State(sandbox): State<Sandbox>, Json(req): Json<InjectFaults>) -> Response {
    let faults = sandbox.faults();
    if faults.inject(req.vendor, req.fault, req.times) {
        return StatusCode::NO_CONTENT.into_response();
    }
    let message = format!(
        "At most {} faults may be queued per vendor; {} are queued for this one. \
         Nothing was queued.",
        faults::MAX_QUEUED,
        faults.queued(req.vendor)
    );
    (
        StatusCode::BAD_REQUEST,
        Json(serde_json::json!({"error": message})),
    )
        .into_response()
}

async fn clear_faults(State(sandbox): State<Sandbox>) -> impl IntoResponse {
    sandbox.faults().clear();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct PlaceOrder {
    vendor: Vendor,
    /// The sandbox connection's id.
    tenant: String,
    sku: String,
    quantity: i64,
}

/// `POST /_sandbox/orders {"vendor": "shopify", "tenant": "<connection id>", "sku":
/// "SM-03-000007", "quantity": 2}`: a buyer orders at the tenant's shop now (its stock
/// drops); 201 with the order's number, or 400 when the shop cannot sell it. Served with
/// the fault switch only: it has no credentials either.
async fn place_order(State(sandbox): State<Sandbox>, Json(req): Json<PlaceOrder>) -> Response {
    let shop = sandbox.tenant_shop(req.vendor, &req.tenant);
    match shop.place_order(&req.sku, req.quantity) {
        Ok(order) => (
            StatusCode::CREATED,
            Json(serde_json::json!({"index": order.index, "number": order.number})),
        )
            .into_response(),
        Err(refused) => (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({"error": refused.to_string()})),
        )
            .into_response(),
    }
}

/// `GET /_sandbox/shopify/{tenant}/usage`: the cost budget the tenant's Shopify shop gave
/// (points spent, THROTTLED answers, the bucket now), for the benchmark to judge the
/// connector's pacing. Read-only, but without credentials: with the fault switch only.
async fn shopify_usage(
    State(sandbox): State<Sandbox>,
    axum::extract::Path(tenant): axum::extract::Path<String>,
) -> Json<shopify::Usage> {
    Json(shopify::usage(
        &sandbox,
        &sandbox.secret().shopify_shop(&tenant),
    ))
}

/// A tenant's credentials for all three sandbox vendors, as JSON (secrets included: they
/// open nothing but the sandbox), with the URLs to call at the sandbox serving at `base`.
pub fn credentials(secret: &SandboxSecret, tenant: &str, base: &Url) -> serde_json::Value {
    use secrecy::ExposeSecret;
    let shop = secret.shopify_shop(tenant);
    let (api_key, api_secret) = secret.shopify_app();
    let seller = secret.amazon_seller(tenant);
    let (client_id, client_secret) = secret.amazon_app();
    let client_key = secret.kaufland_client_key(tenant);
    let base = base.as_str().trim_end_matches('/');
    serde_json::json!({
        "shopify": {
            "shop_domain": shop,
            "access_token": secret.shopify_token(&shop),
            "api_key": api_key,
            "api_secret": api_secret.expose_secret(),
            "graphql_url": format!(
                "{base}/shopify/{shop}/admin/api/{}/graphql.json",
                shopify::API_VERSION
            ),
        },
        "amazon": {
            "seller_id": seller,
            "refresh_token": secret.amazon_refresh_token(&seller),
            "client_id": client_id,
            "client_secret": client_secret.expose_secret(),
            "region": "eu",
            "marketplace_id": "A1PA6795UKMFR9",
            "endpoint": format!("{base}/amazon"),
            "token_url": format!("{base}/amazon/auth/o2/token"),
        },
        "kaufland": {
            "client_key": client_key,
            "secret_key": secret.kaufland_secret_key(&client_key).expose_secret(),
            "storefront": "de",
            "base_url": format!("{base}/kaufland/v2"),
        },
    })
}

/// A sandbox serving on a local port, for tests; stops when dropped.
pub struct Running {
    pub url: Url,
    pub sandbox: Sandbox,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves the sandbox on 127.0.0.1 at a free port.
pub async fn spawn(config: SandboxConfig) -> std::io::Result<Running> {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let addr = listener.local_addr()?;
    let sandbox = Sandbox::new(config);
    let app = router(sandbox.clone());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(Running {
        url: Url::parse(&format!("http://{addr}")).expect("a valid URL"),
        sandbox,
        task,
    })
}
