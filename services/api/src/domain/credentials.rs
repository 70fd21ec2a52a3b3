//! Shop credentials per platform: checked for shape, stored encrypted, shown only as a hint.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sm_connectors::sandbox::SandboxSecret;
use sm_connectors::shopify::oauth;
use sm_connectors::{amazon, kaufland, shopify, ConnectionCredentials};
use sm_domain::Platform;
use sm_http::FieldError;

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "platform", rename_all = "lowercase")]
pub enum Credentials {
    Shopify {
        /// `your-shop.myshopify.com`
        shop_domain: String,
        /// Admin API access token (`shpat_…`).
        access_token: String,
    },
    Amazon {
        seller_id: String,
        /// Login with Amazon refresh token (`Atzr|…`).
        refresh_token: String,
        client_id: String,
        client_secret: String,
        /// `eu`, `na` or `fe`: the marketplace's region.
        region: String,
        marketplace_id: String,
    },
    Kaufland {
        client_key: String,
        secret_key: String,
        storefront: String,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({})", self.hint())
    }
}

/// The JSON a merchant sends; which fields apply depends on the platform. No `Debug`: it
/// holds plaintext secrets.
#[derive(Default, Deserialize, utoipa::ToSchema)]
pub struct CredentialsInput {
    pub shop_domain: Option<String>,
    pub access_token: Option<String>,
    pub seller_id: Option<String>,
    pub refresh_token: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub region: Option<String>,
    pub marketplace_id: Option<String>,
    pub client_key: Option<String>,
    pub secret_key: Option<String>,
    pub storefront: Option<String>,
}

struct Checker {
    errors: Vec<FieldError>,
}

impl Checker {
    fn field(
        &mut self,
        name: &'static str,
        value: &Option<String>,
        rule: &str,
        ok: impl Fn(&str) -> bool,
    ) -> String {
        let value = value.as_deref().map(str::trim).unwrap_or_default();
        if value.is_empty() {
            self.errors.push(FieldError::new(
                format!("credentials.{name}"),
                "required",
                "This field is required.",
            ));
        } else if value.len() > 2048 || !value.bytes().all(|b| b.is_ascii_graphic()) || !ok(value) {
            self.errors.push(FieldError::new(
                format!("credentials.{name}"),
                "invalid_format",
                rule.to_owned(),
            ));
        }
        value.to_owned()
    }
}

impl Checker {
    /// Amazon serves a marketplace from one region's host only. Well-formed values that do
    /// not belong together are refused here, not at the first call to Amazon.
    fn marketplace_in_region(&mut self, marketplace_id: &str, of: Option<&str>, region: &str) {
        let failed = |name| self.errors.iter().any(|e| e.field == name);
        if failed("credentials.marketplace_id") || failed("credentials.region") {
            return;
        }
        let error = match of {
            None => FieldError::new(
                "credentials.marketplace_id",
                "unknown_marketplace",
                format!("{marketplace_id} is not an Amazon marketplace this cockpit supports."),
            ),
            Some(of) if of != region => FieldError::new(
                "credentials.region",
                "region_mismatch",
                format!(
                    "Marketplace {marketplace_id} belongs to region {of}, not {region}; use {of}."
                ),
            ),
            Some(_) => return,
        };
        self.errors.push(error);
    }
}

fn is_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Credentials {
    pub fn parse(platform: Platform, input: &CredentialsInput) -> Result<Self, Vec<FieldError>> {
        let mut c = Checker { errors: Vec::new() };
        let credentials = match platform {
            Platform::Shopify => Credentials::Shopify {
                shop_domain: c.field(
                    "shop_domain",
                    &input.shop_domain.as_ref().map(|d| d.to_ascii_lowercase()),
                    "Use your-shop.myshopify.com.",
                    oauth::is_shop_domain,
                ),
                access_token: c.field(
                    "access_token",
                    &input.access_token,
                    "Admin API tokens start with shpat_, shpca_ or shppa_.",
                    |s| {
                        ["shpat_", "shpca_", "shppa_"]
                            .iter()
                            .any(|p| s.starts_with(p))
                            && s.len() >= 20
                    },
                ),
            },
            Platform::Amazon => {
                let marketplace_id = c.field(
                    "marketplace_id",
                    &input
                        .marketplace_id
                        .clone()
                        .or(Some(amazon::GERMANY.into())),
                    "Marketplace ids have 10 to 14 letters and digits.",
                    |s| {
                        (10..=14).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric())
                    },
                );
                let marketplace_region = amazon::marketplace_region(&marketplace_id);
                let region = c.field(
                    "region",
                    // Omitted: the marketplace's own.
                    &input
                        .region
                        .clone()
                        .or(Some(marketplace_region.unwrap_or("eu").into())),
                    "Use eu, na or fe.",
                    |s| amazon::REGIONS.contains(&s),
                );
                c.marketplace_in_region(&marketplace_id, marketplace_region, &region);
                Credentials::Amazon {
                    seller_id: c.field(
                        "seller_id",
                        &input.seller_id,
                        "The seller id has 10 to 20 letters and digits.",
                        |s| {
                            (10..=20).contains(&s.len())
                                && s.bytes().all(|b| b.is_ascii_alphanumeric())
                        },
                    ),
                    refresh_token: c.field(
                        "refresh_token",
                        &input.refresh_token,
                        "Refresh tokens start with Atzr|.",
                        |s| s.starts_with("Atzr|") && s.len() > 20,
                    ),
                    client_id: c.field(
                        "client_id",
                        &input.client_id,
                        "Client ids start with amzn1.application-oa2-client.",
                        |s| s.starts_with("amzn1.application-oa2-client."),
                    ),
                    client_secret: c.field(
                        "client_secret",
                        &input.client_secret,
                        "Paste the client secret.",
                        |s| s.len() >= 16,
                    ),
                    region,
                    marketplace_id,
                }
            }
            Platform::Kaufland => Credentials::Kaufland {
                client_key: c.field(
                    "client_key",
                    &input.client_key,
                    "The client key has 32 hexadecimal characters.",
                    |s| s.len() == 32 && is_hex(s),
                ),
                secret_key: c.field(
                    "secret_key",
                    &input.secret_key,
                    "The secret key has 64 hexadecimal characters.",
                    |s| s.len() == 64 && is_hex(s),
                ),
                storefront: c.field(
                    "storefront",
                    &input.storefront.clone().or(Some("de".into())),
                    "Use de, at, cz, sk, pl, fr or it.",
                    |s| kaufland::STOREFRONTS.contains(&s),
                ),
            },
        };
        if c.errors.is_empty() {
            Ok(credentials)
        } else {
            Err(c.errors)
        }
    }

    /// The credentials of a sandbox shop, derived from the sandbox's secret; `tenant` (the
    /// connection id) picks the shop.
    pub fn sandbox(platform: Platform, secret: &SandboxSecret, tenant: &str) -> Self {
        match platform {
            Platform::Shopify => {
                let shop_domain = secret.shopify_shop(tenant);
                Credentials::Shopify {
                    access_token: secret.shopify_token(&shop_domain),
                    shop_domain,
                }
            }
            Platform::Amazon => {
                let seller_id = secret.amazon_seller(tenant);
                let (client_id, client_secret) = secret.amazon_app();
                Credentials::Amazon {
                    refresh_token: secret.amazon_refresh_token(&seller_id),
                    seller_id,
                    client_id,
                    client_secret: client_secret.expose_secret().to_owned(),
                    region: "eu".to_owned(),
                    marketplace_id: amazon::GERMANY.to_owned(),
                }
            }
            Platform::Kaufland => {
                let client_key = secret.kaufland_client_key(tenant);
                Credentials::Kaufland {
                    secret_key: secret
                        .kaufland_secret_key(&client_key)
                        .expose_secret()
                        .to_owned(),
                    client_key,
                    storefront: "de".to_owned(),
                }
            }
        }
    }

    /// What the connectors take: the one place the api's credentials become theirs.
    pub fn to_connector(&self) -> ConnectionCredentials {
        let secret = |s: &str| SecretString::from(s.to_owned());
        match self {
            Credentials::Shopify {
                shop_domain,
                access_token,
            } => ConnectionCredentials::Shopify(shopify::Credentials {
                shop_domain: shop_domain.clone(),
                access_token: secret(access_token),
            }),
            Credentials::Amazon {
                seller_id,
                refresh_token,
                client_id,
                client_secret,
                region,
                marketplace_id,
            } => ConnectionCredentials::Amazon(amazon::Credentials {
                seller_id: seller_id.clone(),
                refresh_token: secret(refresh_token),
                client_id: client_id.clone(),
                client_secret: secret(client_secret),
                region: region.clone(),
                marketplace_id: marketplace_id.clone(),
            }),
            Credentials::Kaufland {
                client_key,
                secret_key,
                storefront,
            } => ConnectionCredentials::Kaufland(kaufland::Credentials {
                client_key: client_key.clone(),
                secret_key: secret(secret_key),
                storefront: storefront.clone(),
            }),
        }
    }

    /// The account at the channel, as its webhooks name it: shop domain, seller id or
    /// client key. Not a secret.
    pub fn account_ref(&self) -> &str {
        match self {
            Credentials::Shopify { shop_domain, .. } => shop_domain,
            Credentials::Amazon { seller_id, .. } => seller_id,
            Credentials::Kaufland { client_key, .. } => client_key,
        }
    }

    pub fn platform(&self) -> Platform {
        match self {
            Credentials::Shopify { .. } => Platform::Shopify,
            Credentials::Amazon { .. } => Platform::Amazon,
            Credentials::Kaufland { .. } => Platform::Kaufland,
        }
    }

    /// Enough to recognise which credentials these are, nothing to use them with.
    pub fn hint(&self) -> String {
        match self {
            Credentials::Shopify {
                shop_domain,
                access_token,
            } => format!("{shop_domain}, token …{}", tail(access_token)),
            Credentials::Amazon {
                seller_id,
                client_id,
                region,
                ..
            } => {
                format!("seller {seller_id} ({region}), client …{}", tail(client_id))
            }
            Credentials::Kaufland {
                client_key,
                storefront,
                ..
            } => format!("client key …{} ({storefront})", tail(client_key)),
        }
    }
}

fn tail(secret: &str) -> &str {
    &secret[secret.len().saturating_sub(4)..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: serde_json::Value) -> CredentialsInput {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn shopify_shape_and_hint() {
        let c = Credentials::parse(Platform::Shopify, &input(serde_json::json!({ "shop_domain": "Mein-Shop.myshopify.com", "access_token": "shpat_0123456789abcdef0123456789abcdef" }))).unwrap();
        assert_eq!(c.hint(), "mein-shop.myshopify.com, token …cdef");
        assert!(
            !format!("{c:?}").contains("shpat_0123"),
            "Debug shows only the hint"
        );
        let errors = Credentials::parse(
            Platform::Shopify,
            &input(serde_json::json!({ "shop_domain": "evil.com", "access_token": "x" })),
        )
        .unwrap_err();
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].field, "credentials.shop_domain");
    }

    #[test]
    fn amazon_defaults_to_germany() {
        let c = Credentials::parse(Platform::Amazon, &input(serde_json::json!({
            "seller_id": "A2EXAMPLE1234", "refresh_token": "Atzr|IwEBIexampleexampleexample",
            "client_id": "amzn1.application-oa2-client.abc123", "client_secret": "0123456789abcdef0123"
        }))).unwrap();
        match c {
            Credentials::Amazon {
                marketplace_id,
                region,
                ..
            } => {
                assert_eq!(marketplace_id, amazon::GERMANY);
                assert_eq!(region, "eu");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn amazon_region_and_marketplace_belong_together() {
        let amazon = |extra: serde_json::Value| {
            let mut json = serde_json::json!({
                "seller_id": "A2EXAMPLE1234", "refresh_token": "Atzr|IwEBIexampleexampleexample",
                "client_id": "amzn1.application-oa2-client.abc123", "client_secret": "0123456789abcdef0123"
            });
            json.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            Credentials::parse(Platform::Amazon, &input(json))
        };
        let region = |c: Credentials| match c {
            Credentials::Amazon { region, .. } => region,
            other => panic!("{other:?}"),
        };
        for (marketplace, of) in [
            ("A1PA6795UKMFR9", "eu"),
            ("A1F83G8C2ARO7P", "eu"),
            ("ATVPDKIKX0DER", "na"),
            ("A1VC38T7YXB528", "fe"),
        ] {
            let given = amazon(serde_json::json!({ "marketplace_id": marketplace, "region": of }));
            assert_eq!(region(given.unwrap()), of, "{marketplace}");
            // Without a region, the marketplace's own.
            let omitted = amazon(serde_json::json!({ "marketplace_id": marketplace }));
            assert_eq!(region(omitted.unwrap()), of, "{marketplace}");
        }
        for (marketplace, region, field, code) in [
            (
                "A1PA6795UKMFR9",
                "na",
                "credentials.region",
                "region_mismatch",
            ),
            (
                "ATVPDKIKX0DER",
                "eu",
                "credentials.region",
                "region_mismatch",
            ),
            (
                "A1VC38T7YXB528",
                "eu",
                "credentials.region",
                "region_mismatch",
            ),
            (
                "A1PA6795UKMFR0",
                "eu",
                "credentials.marketplace_id",
                "unknown_marketplace",
            ),
        ] {
            let errors =
                amazon(serde_json::json!({ "marketplace_id": marketplace, "region": region }))
                    .unwrap_err();
            assert_eq!(errors.len(), 1, "{marketplace} {region}");
            assert_eq!((&*errors[0].field, &*errors[0].code), (field, code));
        }
        // A malformed region is reported once, as malformed.
        let errors = amazon(serde_json::json!({ "region": "xx" })).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].code, "invalid_format");
    }

    #[test]
    fn kaufland_keys_are_hex_of_the_right_length() {
        let ok = input(
            serde_json::json!({ "client_key": "0123456789abcdef0123456789abcdef", "secret_key": "a7d0cb1da1ddbc86c96ee5fedd341b7d8ebfbb2f5c83cfe0909f4e57f05dd403" }),
        );
        assert!(Credentials::parse(Platform::Kaufland, &ok).is_ok());
        let bad = input(
            serde_json::json!({ "client_key": "short", "secret_key": "zz", "storefront": "us" }),
        );
        assert_eq!(
            Credentials::parse(Platform::Kaufland, &bad)
                .unwrap_err()
                .len(),
            3
        );
    }

    #[test]
    fn sandbox_credentials_have_the_vendors_shape_and_name_their_account() {
        let secret = SandboxSecret::new(SecretString::from("sandbox-secret".to_owned()));
        for platform in [Platform::Shopify, Platform::Amazon, Platform::Kaufland] {
            let c = Credentials::sandbox(platform, &secret, "tenant-1");
            assert_eq!(c.platform(), platform);
            let input: CredentialsInput =
                serde_json::from_value(serde_json::to_value(&c).unwrap()).unwrap();
            assert!(Credentials::parse(platform, &input).is_ok_and(|parsed| parsed == c));
            assert_eq!(c.to_connector().platform(), platform);
            let expected = match platform {
                Platform::Shopify => secret.shopify_shop("tenant-1"),
                Platform::Amazon => secret.amazon_seller("tenant-1"),
                Platform::Kaufland => secret.kaufland_client_key("tenant-1"),
            };
            assert_eq!(c.account_ref(), expected);
            assert_ne!(Credentials::sandbox(platform, &secret, "tenant-2"), c);
        }
    }

    #[test]
    fn control_characters_are_refused() {
        let bad = input(
            serde_json::json!({ "shop_domain": "a.myshopify.com", "access_token": "shpat_0123456789abcdef\r\nX-Evil: 1" }),
        );
        assert!(Credentials::parse(Platform::Shopify, &bad).is_err());
    }
}
