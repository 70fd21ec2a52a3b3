//! Time-based one-time passwords (RFC 6238): SHA-1, 30-second steps, one step of drift.

use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, TOTP};

pub const DIGITS: usize = 6;
pub const STEP_SECS: u64 = 30;
pub const SECRET_BYTES: usize = 20;

pub struct Totp {
    inner: TOTP,
}

impl Totp {
    pub fn new(
        secret: Vec<u8>,
        digits: usize,
        issuer: &str,
        account: &str,
    ) -> Result<Self, String> {
        TOTP::new(
            Algorithm::SHA1,
            digits,
            1,
            STEP_SECS,
            secret,
            Some(issuer.to_owned()),
            account.to_owned(),
        )
        .map(|inner| Self { inner })
        .map_err(|e| e.to_string())
    }

    pub fn generate_secret() -> Vec<u8> {
        use rand::RngCore;
        let mut secret = vec![0u8; SECRET_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        secret
    }

    /// The `otpauth://` URI an authenticator app reads from a QR code.
    pub fn uri(&self) -> String {
        self.inner.get_url()
    }

    pub fn secret_base32(&self) -> String {
        self.inner.get_secret_base32()
    }

    /// The code for the step that contains `unix_time`.
    pub fn code_at(&self, unix_time: u64) -> String {
        self.inner.generate(unix_time)
    }

    /// The time step whose code matches, looking one step either side of `unix_time`.
    /// The caller stores the step so the same code is accepted only once.
    pub fn matching_step(&self, code: &str, unix_time: u64) -> Option<u64> {
        let current = unix_time / STEP_SECS;
        [current.saturating_sub(1), current, current + 1]
            .into_iter()
            .find(|step| {
                bool::from(
                    self.code_at(step * STEP_SECS)
                        .as_bytes()
                        .ct_eq(code.trim().as_bytes()),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 rows (8 digits, secret "12345678901234567890").
    #[test]
    fn rfc6238_test_vectors() {
        let totp = Totp::new(
            b"12345678901234567890".to_vec(),
            8,
            "ShopMarkets",
            "rfc@example.de",
        )
        .unwrap();
        for (time, expected) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(totp.code_at(time), expected, "T = {time}");
            assert_eq!(totp.matching_step(expected, time), Some(time / 30));
        }
    }

    #[test]
    fn one_step_of_drift_either_way_and_no_more() {
        let totp = Totp::new(
            Totp::generate_secret(),
            DIGITS,
            "ShopMarkets",
            "a@example.de",
        )
        .unwrap();
        let now = 1_700_000_015;
        let code = totp.code_at(now);
        assert_eq!(totp.matching_step(&code, now + 30), Some(now / 30));
        assert_eq!(totp.matching_step(&code, now - 30), Some(now / 30));
        assert_eq!(totp.matching_step(&code, now + 60), None);
        assert_eq!(totp.matching_step("000000x", now), None);
    }

    #[test]
    fn uri_names_issuer_and_account() {
        let totp = Totp::new(
            Totp::generate_secret(),
            DIGITS,
            "ShopMarkets",
            "anna@example.de",
        )
        .unwrap();
        let uri = totp.uri();
        assert!(
            uri.starts_with("otpauth://totp/ShopMarkets:anna%40example.de?"),
            "{uri}"
        );
        assert!(uri.contains(&format!("secret={}", totp.secret_base32())));
    }
}
