//! The Shopify install flow: the merchant approves the ShopMarkets app in their shop's
//! admin, Shopify sends the browser back to the callback, the api trades the code for a
//! token and connects the shop.

use std::collections::HashSet;

use axum::extract::{RawQuery, State};
use axum::response::Redirect;
use axum_extra::extract::cookie::{Cookie, SameSite};
use axum_extra::extract::CookieJar;
use base64::Engine;
use rand::RngCore;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sm_auth::AuthUser;
use sm_connectors::shopify::oauth;
use sm_connectors::{ChannelError, Connector};
use sm_domain::Platform;
use sm_http::{ApiError, FieldError, Json};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::avv;
use crate::channels::{self, sandbox_unavailable};
use crate::db;
use crate::db::connections::NewConnection;
use crate::db::shopify_installs::Install;
use crate::domain::credentials::Credentials;
use crate::error::Result;
use crate::state::AppState;

/// How long a started install may take.
const INSTALL_TTL_MINUTES: i64 = 10;

#[derive(Debug, Deserialize, ToSchema)]
pub struct InstallRequest {
    /// `your-shop.myshopify.com`; refused with `sandbox` (every sandbox install gets a new
    /// sandbox shop).
    #[schema(example = "mein-laden.myshopify.com")]
    pub shop_domain: Option<String>,
    /// Install into a sandbox shop of this installation instead of a real one.
    #[serde(default)]
    pub sandbox: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InstallAnswer {
    /// Send the merchant's browser here to approve the app; it comes back through
    /// `GET /api/shopify/callback` and ends on the dashboard's connections page.
    pub authorize_url: String,
    pub shop_domain: String,
}

/// Starts installing the ShopMarkets app into a Shopify shop. Needs the current AVV
/// signed. A merchant has at most 20 pending installs: starting another forgets the oldest.
/// The answer's URL is good for 10 minutes and one use, and only in this browser:
/// the answer sets a cookie the callback must bring back (send this request with
/// credentials), so that nobody can make another merchant's browser complete their install.
#[utoipa::path(post, path = "/api/shopify/install", tag = "shopify", request_body = InstallRequest,
    responses((status = 200, body = InstallAnswer,
                headers(("set-cookie" = String, description = "`sm_shopify_install_…`, HttpOnly, for the callback's path only"))),
              (status = 403, description = "avv_signature_required", body = sm_http::ErrorBody),
              (status = 409, description = "shopify_app_unavailable (SHOPIFY_API_KEY not set) or sandbox_unavailable", body = sm_http::ErrorBody),
              (status = 422, description = "validation_failed: shop_domain missing or not a myshopify.com domain, or given with `sandbox` (`not_allowed`)", body = sm_http::ErrorBody)))]
pub async fn install(
    State(state): State<AppState>,
    user: AuthUser,
    jar: CookieJar,
    Json(req): Json<InstallRequest>,
) -> Result<(CookieJar, Json<InstallAnswer>)> {
    avv::require_signed(&state, user.user_id).await?;
    let app = app(&state, req.sandbox)?;
    let shop_domain = if req.sandbox {
        // The stand-in app approves any install, so a sandbox shop someone names could be
        // another merchant's: every sandbox install gets a new shop instead.
        if req.shop_domain.is_some() {
            return Err(FieldError::new(
                "shop_domain",
                "not_allowed",
                "A sandbox install always gets a new sandbox shop; leave shop_domain out.",
            )
            .into());
        }
        let secret = state.connectors.sandbox().ok_or_else(sandbox_unavailable)?;
        secret.shopify_shop(&Uuid::now_v7().to_string())
    } else {
        let domain = req
            .shop_domain
            .as_deref()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if !oauth::is_shop_domain(&domain) {
            return Err(FieldError::new(
                "shop_domain",
                "invalid_format",
                "Use your-shop.myshopify.com.",
            )
            .into());
        }
        domain
    };
    // The merchant's browser opens the authorize URL: the sandbox as browsers reach it.
    let hosts = state.links.for_browser(
        state
            .connectors
            .hosts(req.sandbox)
            .map_err(|_| sandbox_unavailable())?,
    );
    let mut nonce = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let install_state = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(nonce);
    let state_hash = sha256_hex(&install_state);
    db::shopify_installs::insert(
        &state.db,
        &state_hash,
        &Install {
            user_id: user.user_id,
            shop_domain: shop_domain.clone(),
            sandbox: req.sandbox,
        },
        chrono::Utc::now() + chrono::Duration::minutes(INSTALL_TTL_MINUTES),
    )
    .await?;
    let cookie = browser_cookie(
        &state,
        &state_hash,
        install_state.clone(),
        time::Duration::minutes(INSTALL_TTL_MINUTES),
    );
    Ok((
        jar.add(cookie),
        Json(InstallAnswer {
            authorize_url: oauth::authorize_url(
                &hosts,
                &app,
                &shop_domain,
                &state.links.shopify_callback(),
                &install_state,
            )
            .map_err(|_| {
                FieldError::new(
                    "shop_domain",
                    "invalid_format",
                    "Use your-shop.myshopify.com.",
                )
            })?,
            shop_domain,
        }),
    ))
}

/// The cookie that ties an install to the browser that started it: named after the state's
/// hash (installs in several tabs do not clash), holding the state, sent only to the
/// callback.
fn browser_cookie(
    state: &AppState,
    state_hash: &str,
    value: String,
    max_age: time::Duration,
) -> Cookie<'static> {
    Cookie::build((cookie_name(state_hash), value))
        .path(state.links.shopify_callback_path())
        .http_only(true)
        // Lax: the callback is a top-level navigation coming from Shopify.
        .same_site(SameSite::Lax)
        .secure(state.links.api.starts_with("https://"))
        .max_age(max_age)
        .build()
}

fn cookie_name(state_hash: &str) -> String {
    format!("sm_shopify_install_{}", &state_hash[..16])
}

/// Where Shopify sends the merchant's browser after they approved the app (no bearer: the
/// signed parameters and the single-use state authenticate it). A callback that is not
/// genuine answers 400 and changes nothing: `invalid_query` (a parameter missing or
/// repeated, more than 16 parameters, or a query over 4 KiB), `invalid_shop_domain`,
/// `invalid_state` (unknown, expired, used, or started in another browser: the install's
/// cookie is missing), `invalid_hmac` (not signed by Shopify for this app, or older than
/// 10 minutes). A genuine one that would add a 101st connection answers 409
/// `too_many_connections` and changes nothing. Otherwise it is used up and answers 303 to the dashboard's connections page:
/// `?connected={id}` when the shop is connected, its credentials checked and its webhooks
/// registered; `?error={code}` (with `&connection={id}` once a connection exists) when the
/// token exchange, the check or the webhook registration failed (a channel error code).
#[utoipa::path(get, path = "/api/shopify/callback", tag = "shopify", security(()),
    params(
        ("code" = String, Query, description = "The authorization code."),
        ("hmac" = String, Query, description = "Shopify's signature over the other parameters."),
        ("host" = Option<String>, Query),
        ("shop" = String, Query, description = "The shop's myshopify.com domain."),
        ("state" = String, Query, description = "The state the install started with."),
        ("timestamp" = String, Query, description = "Unix seconds."),
    ),
    responses(
        (status = 303, description = "To the dashboard's connections page, with `connected` or `error`",
            headers(("location" = String, description = "The dashboard URL"))),
        (status = 400, description = "invalid_query (a parameter missing or repeated, more than 16 parameters, or a query over 4 KiB), invalid_shop_domain, invalid_state or invalid_hmac", body = sm_http::ErrorBody),
        (status = 409, description = "shopify_app_unavailable or sandbox_unavailable: the installation changed since the install began; too_many_connections: the account has 100 connections already and the install would add one (nothing is stored; the install can be completed once a connection is deleted)", body = sm_http::ErrorBody),
    ))]
pub async fn callback(
    State(state): State<AppState>,
    jar: CookieJar,
    RawQuery(query): RawQuery,
) -> Result<(CookieJar, Redirect)> {
    let params = query_pairs(query.as_deref().unwrap_or_default())?;
    let param = |name: &'static str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| {
                ApiError::bad_request("invalid_query", format!("The callback lacks `{name}`."))
            })
    };
    let (shop, code, state_param) = (param("shop")?, param("code")?, param("state")?);
    if !oauth::is_shop_domain(shop) {
        return Err(invalid_shop_domain().into());
    }
    let state_hash = sha256_hex(state_param);
    let install = db::shopify_installs::find(&state.db, &state_hash)
        .await?
        .ok_or_else(invalid_state)?;
    // The signature before anything else: a forged callback must not use up the state.
    let app = app(&state, install.sandbox)?;
    if !oauth::verify_callback(&app, &params, chrono::Utc::now().timestamp()) {
        return Err(ApiError::bad_request(
            "invalid_hmac",
            "The callback is not signed by Shopify for this app, or is too old.",
        )
        .into());
    }
    if shop != install.shop_domain {
        return Err(invalid_shop_domain().into());
    }
    // Only the browser that started the install may finish it: else anyone could send a
    // merchant to approve a shop into the sender's account.
    let name = cookie_name(&state_hash);
    if jar.get(&name).is_none_or(|c| c.value() != state_param) {
        return Err(ApiError::bad_request(
            "invalid_state",
            "This installation was started in another browser; start it again from the dashboard here.",
        )
        .into());
    }
    // A merchant at the cap is told before the code is traded for a token; the state stays
    // usable, so that the callback works once they deleted a connection.
    let new_connection = install.sandbox
        || db::connections::find_by_account(
            &state.db,
            install.user_id,
            Platform::Shopify.as_str(),
            shop,
            false,
        )
        .await?
        .is_none();
    if new_connection && !db::connections::has_room(&state.db, install.user_id).await? {
        return Err(channels::too_many_connections().into());
    }
    let install = db::shopify_installs::consume(&state.db, &state_hash)
        .await?
        .ok_or_else(invalid_state)?;
    let jar = jar.remove(browser_cookie(
        &state,
        &state_hash,
        String::new(),
        time::Duration::ZERO,
    ));
    Ok((
        jar,
        Redirect::to(&match connect(&state, &install, &app, code).await? {
            Ok(id) => state
                .links
                .dashboard_connections(&format!("connected={id}")),
            Err((code, None)) => state.links.dashboard_connections(&format!("error={code}")),
            Err((code, Some(id))) => state
                .links
                .dashboard_connections(&format!("error={code}&connection={id}")),
        }),
    ))
}

/// What a genuine callback leads to: the connection's id, or the channel error's code and
/// the connection, if one was made.
type Outcome = Result<Uuid, (&'static str, Option<Uuid>)>;

/// Trades the code for a token, connects the shop (or gives the user's existing connection
/// to it the new token), checks it and registers the webhooks.
async fn connect(
    state: &AppState,
    install: &Install,
    app: &oauth::App,
    code: &str,
) -> Result<Outcome> {
    let shop = &install.shop_domain;
    // One deadline for the exchange, the check and the registration together, so that the
    // merchant's browser is answered within CHANNEL_TIMEOUT_SECS.
    let deadline = channels::deadline(state);
    let grant = match state.connectors.hosts(install.sandbox) {
        Ok(hosts) => {
            channels::bounded(
                deadline,
                oauth::exchange_code(state.connectors.transport(), &hosts, app, shop, code),
            )
            .await
        }
        Err(e) => Err(e),
    };
    let grant = match grant {
        Ok(grant) => grant,
        Err(e) => {
            tracing::warn!(code = e.code(), %e, "Shopify token exchange failed");
            return Ok(Err((e.code(), None)));
        }
    };
    let credentials = Credentials::Shopify {
        shop_domain: shop.clone(),
        access_token: grant.access_token.expose_secret().to_owned(),
    };
    let existing = db::connections::find_by_account(
        &state.db,
        install.user_id,
        Platform::Shopify.as_str(),
        shop,
        install.sandbox,
    )
    .await?;
    let id = match existing {
        Some(row) => {
            let sealed = channels::seal(state, row.id, &credentials)?;
            db::connections::replace_credentials(
                &state.db,
                install.user_id,
                row.id,
                &sealed,
                &credentials.hint(),
            )
            .await?;
            row.id
        }
        None => {
            let id = Uuid::now_v7();
            db::connections::insert(
                &state.db,
                install.user_id,
                &NewConnection {
                    id,
                    platform: Platform::Shopify.as_str(),
                    shop_name: shop,
                    credentials_enc: &channels::seal(state, id, &credentials)?,
                    credentials_hint: &credentials.hint(),
                    settings: &serde_json::json!({}),
                    // The shop approved the install: its webhooks may reach this connection
                    // (the check below confirms the token as well).
                    account_ref: Some(shop),
                    sandbox: install.sandbox,
                    via_app: true,
                },
            )
            .await?
            .ok_or_else(channels::too_many_connections)?;
            id
        }
    };
    let checked = channels::check(
        state,
        install.user_id,
        id,
        &credentials,
        install.sandbox,
        deadline,
    )
    .await?;
    match checked {
        Some((_, Ok(()))) => {}
        Some((_, Err(e))) => return Ok(Err((e.code(), Some(id)))),
        None => return Ok(Err(("connection_deleted", None))),
    }
    let registered = match channels::connect(state, &credentials, install.sandbox) {
        Ok(Connector::Shopify(client)) => {
            channels::bounded(
                deadline,
                client.register_webhooks(&state.links.shopify_webhooks()),
            )
            .await
        }
        Ok(_) => Err(ChannelError::Protocol {
            message: "Shopify credentials made another channel's client".to_owned(),
        }),
        Err(e) => Err(e),
    };
    Ok(match registered {
        Ok(()) => Ok(id),
        Err(e) => {
            tracing::warn!(connection = %id, code = e.code(), %e, "registering Shopify webhooks failed");
            Err((e.code(), Some(id)))
        }
    })
}

/// The app a flow uses: the real one, or the sandbox's stand-in for it.
fn app(state: &AppState, sandbox: bool) -> Result<oauth::App, ApiError> {
    if sandbox {
        let secret = state.connectors.sandbox().ok_or_else(sandbox_unavailable)?;
        let (api_key, api_secret) = secret.shopify_app();
        return Ok(oauth::App {
            api_key,
            api_secret,
        });
    }
    state.shopify_app.clone().ok_or_else(|| {
        ApiError::conflict(
            "shopify_app_unavailable",
            "This installation has no Shopify app (SHOPIFY_API_KEY is not set); connect the shop with an access token instead.",
        )
    })
}

/// Longest callback query, in bytes; Shopify's are a few hundred.
const MAX_QUERY_BYTES: usize = 4 * 1024;
/// Most callback parameters; Shopify sends six.
const MAX_QUERY_PARAMS: usize = 16;

/// The query's pairs, decoded; a repeated name is refused (the signature would not say
/// which one counts), and so is a query over 4 KiB or with more than 16 parameters.
fn query_pairs(query: &str) -> Result<Vec<(String, String)>, ApiError> {
    if query.len() > MAX_QUERY_BYTES {
        return Err(ApiError::bad_request(
            "invalid_query",
            "The callback's query is longer than 4 KiB.",
        ));
    }
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    if pairs.len() > MAX_QUERY_PARAMS {
        return Err(ApiError::bad_request(
            "invalid_query",
            "The callback has more than 16 parameters.",
        ));
    }
    let mut seen = HashSet::with_capacity(pairs.len());
    if let Some((name, _)) = pairs.iter().find(|(name, _)| !seen.insert(name.as_str())) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("`{name}` is given twice."),
        ));
    }
    Ok(pairs)
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn invalid_state() -> ApiError {
    ApiError::bad_request(
        "invalid_state",
        "This installation link is unknown, expired or already used; start again from the dashboard.",
    )
}

fn invalid_shop_domain() -> ApiError {
    ApiError::bad_request(
        "invalid_shop_domain",
        "The callback's shop is not the myshopify.com shop the installation was started for.",
    )
}
