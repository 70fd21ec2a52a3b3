//! Recovery codes: ten single-use codes that stand in for the authenticator app.

use rand::Rng;
use sha2::{Digest, Sha256};

pub const COUNT: usize = 10;
// Crockford-style alphabet without 0/O and 1/I/L, so codes survive being read aloud.
const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

/// Ten fresh codes like `K7PX-3MQA-W9TZ-H2RD` (about 79 bits each).
pub fn generate() -> Vec<String> {
    let mut rng = rand::rngs::OsRng;
    (0..COUNT)
        .map(|_| {
            let chars: Vec<u8> = (0..16)
                .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())])
                .collect();
            chars
                .chunks(4)
                .map(|c| std::str::from_utf8(c).expect("ascii"))
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect()
}

/// The stored form. The codes carry enough entropy that a plain SHA-256 resists guessing.
pub fn hash(code: &str) -> Vec<u8> {
    let canonical: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    Sha256::digest(canonical.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_distinct_well_formed_codes() {
        let codes = generate();
        assert_eq!(codes.len(), 10);
        assert_eq!(
            codes.iter().collect::<std::collections::HashSet<_>>().len(),
            10
        );
        assert!(codes
            .iter()
            .all(|c| c.len() == 19 && c.split('-').count() == 4));
    }

    #[test]
    fn hashing_forgives_case_spaces_and_dashes() {
        assert_eq!(hash("k7px-3mqa-w9tz-h2rd"), hash("K7PX 3MQA W9TZ H2RD"));
        assert_ne!(hash("K7PX-3MQA-W9TZ-H2RD"), hash("K7PX-3MQA-W9TZ-H2RE"));
    }
}
