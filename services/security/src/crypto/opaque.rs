//! Opaque bearer secrets (refresh tokens, login tickets): 256 random bits, stored only hashed.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A new random token, URL-safe base64 (43 characters).
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The successor of a used refresh token, sealed with `pad` (32 bytes derived from the used
/// token, so each pad seals exactly one successor: a one-time pad). `None` for a token this
/// module did not generate.
pub fn seal(successor: &str, pad: &[u8]) -> Option<Vec<u8>> {
    let raw = URL_SAFE_NO_PAD.decode(successor).ok()?;
    (raw.len() == pad.len()).then(|| raw.iter().zip(pad).map(|(a, b)| a ^ b).collect())
}

/// Undoes [`seal`]; the caller checks the result is a live token before trusting it.
pub fn open(sealed: &[u8], pad: &[u8]) -> Option<String> {
    (sealed.len() == pad.len()).then(|| {
        let raw: Vec<u8> = sealed.iter().zip(pad).map(|(a, b)| a ^ b).collect();
        URL_SAFE_NO_PAD.encode(raw)
    })
}

/// The stored form of a token. 256 bits of entropy need no salt or slow hash.
pub fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_successor_opens_only_with_its_pad() {
        let successor = generate();
        let pad = Sha256::digest(b"pad one").to_vec();
        let sealed = seal(&successor, &pad).unwrap();
        assert_ne!(sealed, URL_SAFE_NO_PAD.decode(&successor).unwrap());
        assert_eq!(open(&sealed, &pad).unwrap(), successor);
        let other = Sha256::digest(b"pad two").to_vec();
        assert_ne!(open(&sealed, &other).unwrap(), successor);
        assert!(seal("not base64 !", &pad).is_none());
    }
}
