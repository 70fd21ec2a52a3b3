//! The public-app install flow (OAuth authorization code grant) and webhook signatures.

use base64::Engine;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::{read_body, ChannelError, Hosts, RetryPolicy, Transport};

/// The access the cockpit asks for: read and write products and stock, read orders.
pub const SCOPES: &str =
    "read_products,write_products,read_orders,read_inventory,write_inventory,read_locations";

/// How old a callback's `timestamp` may be.
const CALLBACK_MAX_AGE_SECS: i64 = 600;

/// The ShopMarkets app as registered with Shopify (`SHOPIFY_API_KEY`, `SHOPIFY_API_SECRET`).
#[derive(Clone)]
pub struct App {
    pub api_key: String,
    /// Signs the install callback and every webhook.
    pub api_secret: SecretString,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("api_key", &self.api_key)
            .finish_non_exhaustive()
    }
}

/// `name.myshopify.com` with a name of lower-case letters, digits and inner hyphens: the
/// only hosts a merchant can make the api call.
pub fn is_shop_domain(domain: &str) -> bool {
    domain.strip_suffix(".myshopify.com").is_some_and(|name| {
        !name.is_empty()
            && name.len() <= 60
            && !name.starts_with('-')
            && !name.ends_with('-')
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    })
}

/// Where to send the merchant's browser to approve the app; a `shop_domain` that is not a
/// shop's fails as invalid credentials, so no caller can point the browser elsewhere.
pub fn authorize_url(
    hosts: &Hosts,
    app: &App,
    shop_domain: &str,
    redirect_uri: &str,
    state: &str,
) -> Result<String, ChannelError> {
    require_shop_domain(shop_domain)?;
    let mut url = url::Url::parse(&format!(
        "{}/admin/oauth/authorize",
        hosts.shopify_shop(shop_domain)
    ))
    .map_err(|_| ChannelError::credentials("not a Shopify shop domain"))?;
    url.query_pairs_mut()
        .append_pair("client_id", &app.api_key)
        .append_pair("scope", SCOPES)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("state", state);
    Ok(url.into())
}

pub(crate) fn require_shop_domain(shop_domain: &str) -> Result<(), ChannelError> {
    if is_shop_domain(shop_domain) {
        Ok(())
    } else {
        Err(ChannelError::credentials(
            "the shop domain must look like your-shop.myshopify.com",
        ))
    }
}

/// Fails with [`ChannelError::MissingScope`], naming every scope of [`SCOPES`] that
/// `granted` lacks. A `write_` scope implies its `read_` scope (Shopify leaves the implied
/// one out of the token answer).
pub(crate) fn require_scopes<'a>(
    granted: impl IntoIterator<Item = &'a str>,
) -> Result<(), ChannelError> {
    let granted: Vec<&str> = granted.into_iter().map(str::trim).collect();
    let has = |wanted: &str| {
        granted.iter().any(|g| {
            *g == wanted
                || wanted
                    .strip_prefix("read_")
                    .is_some_and(|resource| g.strip_prefix("write_") == Some(resource))
        })
    };
    let missing: Vec<&str> = SCOPES.split(',').filter(|wanted| !has(wanted)).collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ChannelError::MissingScope {
            scope: missing.join(","),
        })
    }
}

fn hmac(secret: &SecretString) -> Hmac<Sha256> {
    Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
        .expect("HMAC takes any key length")
}

/// The `hmac` a callback's other parameters must carry: hex HMAC-SHA256 over
/// `key=value` pairs (decoded), sorted by key, joined with `&`.
pub fn callback_hmac(app: &App, params: &[(String, String)]) -> String {
    let mut pairs: Vec<_> = params
        .iter()
        .filter(|(k, _)| k != "hmac" && k != "signature")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    pairs.sort();
    let mut mac = hmac(&app.api_secret);
    mac.update(pairs.join("&").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// True when the callback's `hmac` is genuine and its `timestamp` fresh.
pub fn verify_callback(app: &App, params: &[(String, String)], now_unix: i64) -> bool {
    let given = params.iter().find(|(k, _)| k == "hmac").map(|(_, v)| v);
    let timestamp = params
        .iter()
        .find(|(k, _)| k == "timestamp")
        .and_then(|(_, v)| v.parse::<i64>().ok());
    let (Some(given), Some(timestamp)) = (given, timestamp) else {
        return false;
    };
    let expected = callback_hmac(app, params);
    (now_unix - timestamp).abs() <= CALLBACK_MAX_AGE_SECS
        && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

/// `X-Shopify-Hmac-Sha256` for a webhook body: base64 HMAC-SHA256 with the app secret.
pub fn webhook_hmac(secret: &SecretString, body: &[u8]) -> String {
    let mut mac = hmac(secret);
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// True when `header` is the webhook body's signature, compared in constant time.
pub fn verify_webhook(secret: &SecretString, body: &[u8], header: &str) -> bool {
    let expected = webhook_hmac(secret, body);
    bool::from(expected.as_bytes().ct_eq(header.trim().as_bytes()))
}

/// What the token exchange grants.
pub struct Grant {
    pub access_token: SecretString,
    /// Comma-separated scopes as granted.
    pub scope: String,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    scope: String,
}

/// Trades the callback's `code` for an offline access token. The code is good for one try,
/// so the request is sent once: a lost answer means starting the install again. A grant
/// without every scope of [`SCOPES`] fails with [`ChannelError::MissingScope`].
pub async fn exchange_code(
    transport: &Transport,
    hosts: &Hosts,
    app: &App,
    shop_domain: &str,
    code: &str,
) -> Result<Grant, ChannelError> {
    require_shop_domain(shop_domain)?;
    let url = format!(
        "{}/admin/oauth/access_token",
        hosts.shopify_shop(shop_domain)
    );
    let body = serde_json::json!({
        "client_id": app.api_key,
        "client_secret": app.api_secret.expose_secret(),
        "code": code,
    });
    let once = transport.with_retry(RetryPolicy {
        max_retries: 0,
        ..transport.retry_policy()
    });
    let response = once
        .send(|client| client.post(&url).json(&body))
        .await
        .map_err(|e| match e {
            ChannelError::Unavailable { message } => ChannelError::unavailable(format!(
                "the token exchange failed ({message}); start the installation again"
            )),
            other => other,
        })?;
    let status = response.status();
    if status.is_client_error() {
        return Err(ChannelError::credentials(
            "Shopify refused the authorization code; start the installation again.",
        ));
    }
    if !status.is_success() {
        return Err(ChannelError::unavailable(format!(
            "Shopify answered the token exchange with HTTP {status}; start the installation again"
        )));
    }
    let answer: TokenAnswer = serde_json::from_slice(&read_body(response).await?)
        .map_err(|_| ChannelError::protocol("the token exchange answer is not JSON"))?;
    require_scopes(answer.scope.split(','))?;
    Ok(Grant {
        access_token: SecretString::from(answer.access_token),
        scope: answer.scope,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_vector_from_the_docs() {
        let secret = SecretString::from("test-webhook-secret");
        let body = br#"{"id":1234567890,"email":"customer@example.com","total_price":"123.45"}"#;
        assert_eq!(
            webhook_hmac(&secret, body),
            "QNyObTlKbMx2qDlPF/ZOZcBqg5OgPg+2oky3zldc0Gw="
        );
        assert!(verify_webhook(
            &secret,
            body,
            "QNyObTlKbMx2qDlPF/ZOZcBqg5OgPg+2oky3zldc0Gw="
        ));
        assert!(!verify_webhook(
            &secret,
            b"{}",
            "QNyObTlKbMx2qDlPF/ZOZcBqg5OgPg+2oky3zldc0Gw="
        ));
    }

    #[test]
    fn callbacks_are_signed_over_sorted_parameters() {
        let app = App {
            api_key: "key".into(),
            api_secret: SecretString::from("hush"),
        };
        let mut params = vec![
            ("shop".to_owned(), "a-shop.myshopify.com".to_owned()),
            (
                "code".to_owned(),
                "0907a61c0c8d55e99db179b68161bc00".to_owned(),
            ),
            ("timestamp".to_owned(), "1337178173".to_owned()),
            ("state".to_owned(), "nonce".to_owned()),
        ];
        let signed = callback_hmac(&app, &params);
        params.push(("hmac".to_owned(), signed));
        assert!(verify_callback(&app, &params, 1337178173 + 5));
        assert!(!verify_callback(&app, &params, 1337178173 + 3600), "stale");
        params[0].1 = "evil.myshopify.com".to_owned();
        assert!(!verify_callback(&app, &params, 1337178173));
    }

    #[test]
    fn only_myshopify_domains_are_shops() {
        assert!(is_shop_domain("mein-laden.myshopify.com"));
        for bad in [
            "evil.com",
            "myshopify.com",
            ".myshopify.com",
            "a.b.myshopify.com",
            "127.0.0.1",
            "x.myshopify.com.evil.com",
            "UPPER.myshopify.com",
            "-x.myshopify.com",
        ] {
            assert!(!is_shop_domain(bad), "{bad}");
        }
    }

    #[test]
    fn authorize_url_only_for_shops() {
        let app = App {
            api_key: "key".into(),
            api_secret: SecretString::from("hush"),
        };
        let url = authorize_url(
            &Hosts::Vendor,
            &app,
            "mein-laden.myshopify.com",
            "https://r",
            "s",
        )
        .unwrap();
        assert!(url.starts_with("https://mein-laden.myshopify.com/admin/oauth/authorize?"));
        for bad in ["evil.com", "evil.com/x?.myshopify.com", "a@b.myshopify.com"] {
            assert!(
                matches!(
                    authorize_url(&Hosts::Vendor, &app, bad, "https://r", "s"),
                    Err(ChannelError::InvalidCredentials { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn scopes_are_compared_with_what_the_cockpit_needs() {
        assert_eq!(require_scopes(SCOPES.split(',')), Ok(()));
        // Shopify's token answer leaves out read scopes implied by write scopes.
        assert_eq!(
            require_scopes([
                "write_products",
                "read_orders",
                "write_inventory",
                "read_locations"
            ]),
            Ok(())
        );
        assert_eq!(
            require_scopes([
                "read_products",
                "write_products",
                "read_inventory",
                "read_locations"
            ]),
            Err(ChannelError::MissingScope {
                scope: "read_orders,write_inventory".into()
            })
        );
        // read does not imply write.
        assert!(require_scopes([
            "read_products",
            "read_orders",
            "write_inventory",
            "read_locations"
        ])
        .is_err());
        assert!(require_scopes([""]).is_err());
    }
}
