//! AES-256-GCM for secrets the service must read back (TOTP secrets).
//! Stored form: key id (1 byte) || nonce (12 bytes) || ciphertext+tag.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Key, Nonce};

const KEY_ID: u8 = 1;
const NONCE_LEN: usize = 12;

#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox([redacted])")
    }
}

impl SecretBox {
    pub fn new(key: &[u8; 32]) -> Self {
        Self {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key)),
        }
    }

    /// `aad` binds the ciphertext to its owner (the user id), so it cannot be moved to another row.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                aes_gcm::aead::Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .expect("AES-GCM encryption of a small buffer cannot fail");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        out.push(KEY_ID);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Option<Vec<u8>> {
        let (&key_id, rest) = sealed.split_first()?;
        if key_id != KEY_ID || rest.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                aes_gcm::aead::Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper_detection() {
        let sb = SecretBox::new(&[7u8; 32]);
        let sealed = sb.seal(b"JBSWY3DPEHPK3PXP", b"user-1");
        assert_eq!(sb.open(&sealed, b"user-1").unwrap(), b"JBSWY3DPEHPK3PXP");
        assert!(sb.open(&sealed, b"user-2").is_none(), "bound to its owner");
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(sb.open(&tampered, b"user-1").is_none());
        assert!(SecretBox::new(&[8u8; 32])
            .open(&sealed, b"user-1")
            .is_none());
        assert_ne!(
            sb.seal(b"same", b"u"),
            sb.seal(b"same", b"u"),
            "fresh nonce each time"
        );
    }
}
