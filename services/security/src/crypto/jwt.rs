//! Access tokens: HS256 JWTs signed with `JWT_SECRET`. Only HS256 is accepted, so `none` and
//! algorithm switching are refused before any signature is looked at.

use std::time::Duration;

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use sm_domain::Role;

const ACCESS: &str = "access";
/// Clock skew forgiven on `exp`, `nbf` and `iat`, in seconds.
const LEEWAY_SECS: i64 = 5;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    pub sub: Uuid,
    /// The session this token belongs to: revoking the session ends the token.
    pub sid: Uuid,
    /// Token type: always "access"; anything else presented as an access token is refused.
    pub typ: String,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
}

#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl: Duration,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKeys")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl JwtKeys {
    pub fn new(secret: &[u8], issuer: &str, audience: &str, ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECS as u64;
        validation.validate_nbf = true;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            ttl,
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn issue(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        role: Role,
    ) -> anyhow::Result<(String, AccessClaims)> {
        let now = chrono::Utc::now().timestamp();
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: user_id,
            sid: session_id,
            typ: ACCESS.to_owned(),
            role,
            iat: now,
            exp: now + self.ttl.as_secs() as i64,
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok((token, claims))
    }

    /// The claims of a valid access token, or `None` for anything else. Besides the signature,
    /// `iss`, `aud`, `exp` and `nbf`, a token must not claim to be issued in the future nor
    /// to live longer than this service issues tokens for.
    pub fn verify(&self, token: &str) -> Option<AccessClaims> {
        let claims = decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .ok()?
            .claims;
        let now = chrono::Utc::now().timestamp();
        let lifetime = claims.exp.saturating_sub(claims.iat);
        let fits =
            claims.iat <= now + LEEWAY_SECS && lifetime <= self.ttl.as_secs() as i64 + LEEWAY_SECS;
        (claims.typ == ACCESS && fits).then_some(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn keys() -> JwtKeys {
        JwtKeys::new(
            SECRET,
            "https://security.shopmarkets.app",
            "shopmarkets",
            Duration::from_secs(900),
        )
    }

    fn forge(header: &str, claims: &serde_json::Value, signature: &str) -> String {
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims.to_string()),
            signature
        )
    }

    #[test]
    fn issued_tokens_verify() {
        let k = keys();
        let (token, claims) = k
            .issue(Uuid::now_v7(), Uuid::now_v7(), Role::Merchant)
            .unwrap();
        let back = k.verify(&token).unwrap();
        assert_eq!(back.sub, claims.sub);
        assert_eq!(back.sid, claims.sid);
        assert_eq!(back.exp - back.iat, 900);
    }

    #[test]
    fn refuses_alg_none_and_other_algorithms() {
        let k = keys();
        let (token, claims) = k
            .issue(Uuid::now_v7(), Uuid::now_v7(), Role::Admin)
            .unwrap();
        let claims = serde_json::to_value(claims).unwrap();
        assert!(k
            .verify(&forge(r#"{"alg":"none","typ":"JWT"}"#, &claims, ""))
            .is_none());
        let sig = token.rsplit('.').next().unwrap();
        assert!(k
            .verify(&forge(r#"{"alg":"HS512","typ":"JWT"}"#, &claims, sig))
            .is_none());
        assert!(k
            .verify(&forge(r#"{"alg":"RS256","typ":"JWT"}"#, &claims, sig))
            .is_none());
    }

    #[test]
    fn refuses_wrong_signature_issuer_audience_type_and_expiry() {
        let k = keys();
        let other = JwtKeys::new(
            b"another secret that is long enough!!",
            "https://security.shopmarkets.app",
            "shopmarkets",
            Duration::from_secs(900),
        );
        let (token, _) = other
            .issue(Uuid::now_v7(), Uuid::now_v7(), Role::Merchant)
            .unwrap();
        assert!(k.verify(&token).is_none(), "wrong signature");

        let sign = |claims: serde_json::Value| {
            encode(
                &Header::new(Algorithm::HS256),
                &claims,
                &EncodingKey::from_secret(SECRET),
            )
            .unwrap()
        };
        let now = chrono::Utc::now().timestamp();
        let base = serde_json::json!({
            "iss": "https://security.shopmarkets.app", "aud": "shopmarkets",
            "sub": Uuid::now_v7(), "sid": Uuid::now_v7(), "typ": "access", "role": "merchant",
            "iat": now, "exp": now + 900
        });
        assert!(
            k.verify(&sign(base.clone())).is_some(),
            "the untouched claims are valid"
        );
        for (field, value) in [
            ("iss", serde_json::json!("https://evil.example")),
            ("aud", serde_json::json!("other-app")),
            ("typ", serde_json::json!("refresh")),
            ("exp", serde_json::json!(now - 60)),
        ] {
            let mut claims = base.clone();
            claims[field] = value;
            assert!(k.verify(&sign(claims)).is_none(), "{field} must be checked");
        }
    }

    #[test]
    fn refuses_tokens_not_yet_valid_from_the_future_or_living_too_long() {
        let k = keys();
        let sign = |claims: serde_json::Value| {
            encode(
                &Header::new(Algorithm::HS256),
                &claims,
                &EncodingKey::from_secret(SECRET),
            )
            .unwrap()
        };
        let now = chrono::Utc::now().timestamp();
        let claims = |iat: i64, exp: i64, nbf: Option<i64>| {
            let mut c = serde_json::json!({
                "iss": "https://security.shopmarkets.app", "aud": "shopmarkets",
                "sub": Uuid::now_v7(), "sid": Uuid::now_v7(), "typ": "access", "role": "admin",
                "iat": iat, "exp": exp
            });
            if let Some(nbf) = nbf {
                c["nbf"] = nbf.into();
            }
            c
        };
        // Refused: not valid before an hour from now; issued an hour from now; living a year.
        for (what, forged) in [
            (
                "nbf in the future",
                claims(now, now + 900, Some(now + 3600)),
            ),
            (
                "iat in the future",
                claims(now + 3600, now + 3600 + 900, None),
            ),
            (
                "iat far in the future",
                claims(now + 86400 * 365, now + 86400 * 366, None),
            ),
            (
                "lifetime beyond the ttl",
                claims(now, now + 86400 * 365, None),
            ),
            ("lifetime just beyond", claims(now - 60, now + 900, None)),
        ] {
            assert!(k.verify(&sign(forged)).is_none(), "{what} must be refused");
        }
        // Accepted: a past nbf, and the small clock skew the leeway forgives.
        for (what, fine) in [
            ("nbf in the past", claims(now, now + 900, Some(now - 10))),
            (
                "iat a moment ahead",
                claims(now + 3, now + 903, Some(now + 3)),
            ),
            ("exactly the ttl", claims(now - 100, now + 800, None)),
        ] {
            assert!(k.verify(&sign(fine)).is_some(), "{what} must be accepted");
        }
    }
}
