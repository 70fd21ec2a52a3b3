//! Encryption at rest for secrets a service must read back (shop credentials, TOTP secrets).
//!
//! A [`Keyring`] holds one or more AES-256-GCM keys, each with a one-byte id. New data is
//! sealed with the active (highest) key; the id travels in the stored form, so old data
//! still opens after a new key is added — rotate by adding a key, re-sealing, then dropping
//! the old one. Stored form: key id (1 byte) || nonce (12 bytes) || ciphertext + tag.

use std::collections::BTreeMap;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

const NONCE_LEN: usize = 12;

#[derive(Clone)]
pub struct Keyring {
    active: u8,
    keys: BTreeMap<u8, Aes256Gcm>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("active", &self.active)
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyringError {
    #[error("expected `base64` or `id:base64,id:base64,…` with ids 1–255")]
    Syntax,
    #[error("key {0} is not the base64 encoding of exactly 32 bytes")]
    KeyLength(u8),
    #[error("key id {0} appears twice")]
    Duplicate(u8),
}

impl Keyring {
    /// Parses `base64` (one key, id 1) or `1:base64,2:base64` (the highest id is active).
    /// Errors never contain key material.
    pub fn parse(spec: &str) -> Result<Self, KeyringError> {
        let mut keys = BTreeMap::new();
        for (position, entry) in spec.split(',').map(str::trim).enumerate() {
            let (id, encoded) = match entry.split_once(':') {
                Some((id, encoded)) => (
                    id.trim().parse::<u8>().map_err(|_| KeyringError::Syntax)?,
                    encoded.trim(),
                ),
                None if position == 0 && !spec.contains(',') => (1, entry),
                None => return Err(KeyringError::Syntax),
            };
            if id == 0 {
                return Err(KeyringError::Syntax);
            }
            let bytes = STANDARD
                .decode(encoded)
                .map_err(|_| KeyringError::KeyLength(id))?;
            let key: [u8; 32] = bytes.try_into().map_err(|_| KeyringError::KeyLength(id))?;
            if keys
                .insert(id, Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key)))
                .is_some()
            {
                return Err(KeyringError::Duplicate(id));
            }
        }
        let active = *keys.keys().next_back().ok_or(KeyringError::Syntax)?;
        Ok(Self { active, keys })
    }

    pub fn active_key_id(&self) -> u8 {
        self.active
    }

    /// Encrypts under the active key. `aad` binds the ciphertext to its owner (say the row's
    /// id), so it cannot be copied to another row and opened there.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = self.keys[&self.active]
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        out.push(self.active);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    /// Decrypts with the key named in `sealed`; `None` if that key is gone or the data or
    /// its owner do not match.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Option<Vec<u8>> {
        let (key_id, rest) = sealed.split_first()?;
        if rest.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        self.keys
            .get(key_id)?
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
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

    fn key(byte: u8) -> String {
        STANDARD.encode([byte; 32])
    }

    #[test]
    fn round_trip_and_tamper_detection() {
        let ring = Keyring::parse(&key(7)).unwrap();
        assert_eq!(ring.active_key_id(), 1);
        let sealed = ring.seal(b"JBSWY3DPEHPK3PXP", b"user-1");
        assert_eq!(ring.open(&sealed, b"user-1").unwrap(), b"JBSWY3DPEHPK3PXP");
        assert!(
            ring.open(&sealed, b"user-2").is_none(),
            "bound to its owner"
        );
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(ring.open(&tampered, b"user-1").is_none());
        assert!(
            Keyring::parse(&key(8))
                .unwrap()
                .open(&sealed, b"user-1")
                .is_none(),
            "another key"
        );
        assert_ne!(
            ring.seal(b"same", b"u"),
            ring.seal(b"same", b"u"),
            "fresh nonce each time"
        );
    }

    #[test]
    fn rotation_keeps_old_data_readable() {
        let old = Keyring::parse(&format!("1:{}", key(1))).unwrap();
        let sealed_old = old.seal(b"token", b"row");
        let rotated = Keyring::parse(&format!("1:{},2:{}", key(1), key(2))).unwrap();
        assert_eq!(rotated.active_key_id(), 2);
        assert_eq!(rotated.open(&sealed_old, b"row").unwrap(), b"token");
        let sealed_new = rotated.seal(b"token", b"row");
        assert_eq!(sealed_new[0], 2);
        assert!(old.open(&sealed_new, b"row").is_none());
    }

    #[test]
    fn bad_specs_are_refused_without_echoing_keys() {
        assert_eq!(Keyring::parse("").unwrap_err(), KeyringError::KeyLength(1));
        assert_eq!(
            Keyring::parse("c2hvcnQ=").unwrap_err(),
            KeyringError::KeyLength(1)
        );
        assert_eq!(
            Keyring::parse(&format!("1:{},1:{}", key(1), key(2))).unwrap_err(),
            KeyringError::Duplicate(1)
        );
        assert_eq!(
            Keyring::parse(&format!("0:{}", key(1))).unwrap_err(),
            KeyringError::Syntax
        );
        assert_eq!(
            Keyring::parse(&format!("x:{}", key(1))).unwrap_err(),
            KeyringError::Syntax
        );
        let debug = format!("{:?}", Keyring::parse(&key(9)).unwrap());
        assert!(!debug.contains(&key(9)));
    }
}
