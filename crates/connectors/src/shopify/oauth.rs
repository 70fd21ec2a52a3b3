//! The public-app install flow (OAuth authorization code grant) and webhook signatures.

use base64::Engine;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::{ChannelError, Hosts, Transport};

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

/// Where to send the merchant's browser to approve the app.
pub fn authorize_url(
    hosts: &Hosts,
    app: &App,
    shop_domain: &str,
    redirect_uri: &str,
    state: &str,
) -> String {
    let mut url = url::Url::parse(&format!(
        "{}/admin/oauth/authorize",
        hosts.shopify_shop(shop_domain)
    ))
    .expect("a checked shop domain makes a valid URL");
    url.query_pairs_mut()
        .append_pair("client_id", &app.api_key)
        .append_pair("scope", SCOPES)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("state", state);
    url.into()
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

/// Trades the callback's `code` for an offline access token.
pub async fn exchange_code(
    transport: &Transport,
    hosts: &Hosts,
    app: &App,
    shop_domain: &str,
    code: &str,
) -> Result<Grant, ChannelError> {
    let url = format!(
        "{}/admin/oauth/access_token",
        hosts.shopify_shop(shop_domain)
    );
    let body = serde_json::json!({
        "client_id": app.api_key,
        "client_secret": app.api_secret.expose_secret(),
        "code": code,
    });
    let response = transport
        .send(|client| client.post(&url).json(&body))
        .await?;
    let status = response.status();
    if status.is_client_error() {
        return Err(ChannelError::credentials(
            "Shopify refused the authorization code; start the installation again.",
        ));
    }
    if !status.is_success() {
        return Err(ChannelError::unavailable(format!(
            "Shopify answered the token exchange with HTTP {status}"
        )));
    }
    let answer: TokenAnswer = response
        .json()
        .await
        .map_err(|_| ChannelError::protocol("the token exchange answer is not JSON"))?;
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
}
