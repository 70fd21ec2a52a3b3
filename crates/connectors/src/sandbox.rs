//! Credentials of sandbox shops, derived from the operator's `SANDBOX_SECRET`.
//!
//! The api and the sandbox share that secret and nothing else: the api derives a
//! connection's sandbox credentials from it, the sandbox recomputes them to check every
//! request, the way the vendors check theirs. Each tenant (a sandbox connection) gets its
//! own shop with its own seeded catalogue.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// The secret the api and the sandbox share.
#[derive(Clone)]
pub struct SandboxSecret(SecretString);

impl std::fmt::Debug for SandboxSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SandboxSecret(…)")
    }
}

impl SandboxSecret {
    pub fn new(secret: SecretString) -> Self {
        SandboxSecret(secret)
    }

    fn mac(&self, purpose: &str, subject: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.0.expose_secret().as_bytes())
            .expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(subject.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// True when `given` equals the derived value, compared in constant time.
    fn verify(&self, purpose: &str, subject: &str, given: &str, len: usize) -> bool {
        use subtle::ConstantTimeEq;
        let expected = self.mac(purpose, subject);
        given.len() == len && bool::from(expected.as_bytes()[..len].ct_eq(given.as_bytes()))
    }

    // Shopify -------------------------------------------------------------------------

    /// The shop domain of a tenant's sandbox Shopify.
    pub fn shopify_shop(&self, tenant: &str) -> String {
        format!(
            "sandbox-{}.myshopify.com",
            &self.mac("shopify-shop", tenant)[..12]
        )
    }

    /// The Admin API access token of a sandbox shop.
    pub fn shopify_token(&self, shop_domain: &str) -> String {
        format!("shpat_{}", &self.mac("shopify-token", shop_domain)[..32])
    }

    pub fn shopify_token_valid(&self, shop_domain: &str, token: &str) -> bool {
        token
            .strip_prefix("shpat_")
            .is_some_and(|t| self.verify("shopify-token", shop_domain, t, 32))
    }

    /// The sandbox's stand-in for the ShopMarkets public app: (API key, API secret).
    pub fn shopify_app(&self) -> (String, SecretString) {
        (
            self.mac("shopify-app-key", "")[..32].to_owned(),
            SecretString::from(format!(
                "shpss_{}",
                &self.mac("shopify-app-secret", "")[..32]
            )),
        )
    }

    // Amazon --------------------------------------------------------------------------

    /// The seller id of a tenant's sandbox Amazon account (14 characters, like Amazon's).
    pub fn amazon_seller(&self, tenant: &str) -> String {
        format!(
            "A{}",
            self.mac("amazon-seller", tenant)[..13].to_ascii_uppercase()
        )
    }

    /// The LWA refresh token of a sandbox seller: `Atzr|{seller}|{mac}`.
    pub fn amazon_refresh_token(&self, seller_id: &str) -> String {
        format!(
            "Atzr|{seller_id}|{}",
            &self.mac("amazon-refresh", seller_id)[..40]
        )
    }

    /// The seller a sandbox refresh token belongs to, if it is genuine.
    pub fn amazon_refresh_token_seller(&self, token: &str) -> Option<String> {
        let (seller, mac) = token.strip_prefix("Atzr|")?.split_once('|')?;
        self.verify("amazon-refresh", seller, mac, 40)
            .then(|| seller.to_owned())
    }

    /// A sandbox LWA access token of a seller, valid until `expires_at` (Unix seconds):
    /// `Atza|{seller}|{expires_at}|{mac}`, checked without any state.
    pub fn amazon_access_token(&self, seller_id: &str, expires_at: i64) -> String {
        format!(
            "Atza|{seller_id}|{expires_at}|{}",
            &self.mac("amazon-access", &format!("{seller_id}|{expires_at}"))[..40]
        )
    }

    /// The seller an access token belongs to, if it is genuine and not expired at `now`.
    pub fn amazon_access_token_seller(&self, token: &str, now: i64) -> Option<String> {
        let (rest, mac) = token.strip_prefix("Atza|")?.rsplit_once('|')?;
        let (seller, expires_at) = rest.rsplit_once('|')?;
        let fresh = expires_at.parse::<i64>().ok()? > now;
        (fresh && self.verify("amazon-access", rest, mac, 40)).then(|| seller.to_owned())
    }

    /// The sandbox's stand-in for the ShopMarkets LWA app: (client id, client secret).
    pub fn amazon_app(&self) -> (String, SecretString) {
        (
            format!(
                "amzn1.application-oa2-client.{}",
                &self.mac("amazon-client-id", "")[..32]
            ),
            SecretString::from(format!(
                "amzn1.oa2-cs.v1.{}",
                &self.mac("amazon-client-secret", "")[..64]
            )),
        )
    }

    // Kaufland ------------------------------------------------------------------------

    /// A tenant's sandbox Kaufland client key (32 hex digits).
    pub fn kaufland_client_key(&self, tenant: &str) -> String {
        self.mac("kaufland-client", tenant)[..32].to_owned()
    }

    /// The secret key belonging to a sandbox client key (64 hex digits).
    pub fn kaufland_secret_key(&self, client_key: &str) -> SecretString {
        SecretString::from(self.mac("kaufland-secret", client_key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> SandboxSecret {
        SandboxSecret::new(SecretString::from("sandbox-test-secret"))
    }

    #[test]
    fn shopify_tokens_belong_to_their_shop() {
        let s = secret();
        let shop = s.shopify_shop("tenant-1");
        assert!(shop.starts_with("sandbox-") && shop.ends_with(".myshopify.com"));
        let token = s.shopify_token(&shop);
        assert!(s.shopify_token_valid(&shop, &token));
        assert!(!s.shopify_token_valid(&s.shopify_shop("tenant-2"), &token));
        assert!(!s.shopify_token_valid(&shop, "shpat_0000"));
        let other = SandboxSecret::new(SecretString::from("another-secret"));
        assert!(!other.shopify_token_valid(&shop, &token));
    }

    #[test]
    fn amazon_refresh_tokens_name_their_seller() {
        let s = secret();
        let seller = s.amazon_seller("tenant-1");
        assert_eq!(seller.len(), 14);
        let token = s.amazon_refresh_token(&seller);
        assert_eq!(s.amazon_refresh_token_seller(&token), Some(seller.clone()));
        let forged = token.replace(&seller, &s.amazon_seller("tenant-2"));
        assert_eq!(s.amazon_refresh_token_seller(&forged), None);
    }

    #[test]
    fn amazon_access_tokens_expire_and_name_their_seller() {
        let s = secret();
        let seller = s.amazon_seller("tenant-1");
        let token = s.amazon_access_token(&seller, 2_000);
        assert_eq!(
            s.amazon_access_token_seller(&token, 1_999),
            Some(seller.clone())
        );
        assert_eq!(s.amazon_access_token_seller(&token, 2_000), None);
        let extended = token.replace("|2000|", "|9000|");
        assert_eq!(s.amazon_access_token_seller(&extended, 1_999), None);
        let other = s.amazon_seller("tenant-2");
        assert_eq!(
            s.amazon_access_token_seller(&token.replace(&seller, &other), 1_999),
            None
        );
    }

    #[test]
    fn kaufland_keys_have_the_vendors_shape() {
        let s = secret();
        let key = s.kaufland_client_key("tenant-1");
        assert_eq!(key.len(), 32);
        assert_eq!(s.kaufland_secret_key(&key).expose_secret().len(), 64);
    }
}
