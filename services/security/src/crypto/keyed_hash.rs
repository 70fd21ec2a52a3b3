//! HMAC-SHA256 under a server key, for short secrets (six-digit codes) and for lookup keys
//! that must not reveal what they were made from (throttle keys).

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

#[derive(Clone)]
pub struct KeyedHasher {
    key: [u8; 32],
}

impl std::fmt::Debug for KeyedHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyedHasher([redacted])")
    }
}

impl KeyedHasher {
    /// Derives this hasher's key from a master secret and a label, so one secret can feed
    /// several independent uses.
    pub fn derive(master: &[u8], label: &str) -> Self {
        let mut mac = HmacSha256::new_from_slice(master).expect("HMAC takes any key length");
        mac.update(label.as_bytes());
        Self {
            key: mac.finalize().into_bytes().into(),
        }
    }

    /// Hash of the parts, each length-prefixed so ("ab","c") and ("a","bc") differ.
    pub fn hash(&self, parts: &[&[u8]]) -> Vec<u8> {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().to_vec()
    }

    pub fn matches(&self, parts: &[&[u8]], expected: &[u8]) -> bool {
        self.hash(parts).ct_eq(expected).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_to_every_part_and_to_the_key() {
        let h = KeyedHasher::derive(b"master secret", "codes");
        let stored = h.hash(&[b"login_2fa", b"user-1", b"123456"]);
        assert!(h.matches(&[b"login_2fa", b"user-1", b"123456"], &stored));
        assert!(!h.matches(&[b"password_reset", b"user-1", b"123456"], &stored));
        assert!(!h.matches(&[b"login_2fa", b"user-2", b"123456"], &stored));
        assert!(!h.matches(&[b"login_2fa", b"user-", b"1123456"], &stored));
        let other = KeyedHasher::derive(b"master secret", "throttle");
        assert!(!other.matches(&[b"login_2fa", b"user-1", b"123456"], &stored));
    }
}
