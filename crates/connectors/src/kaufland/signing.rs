//! Kaufland's request signature: hex(HMAC-SHA256(secret, METHOD\nURI\nBODY\nTIMESTAMP)).

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The `Shop-Signature` of a request. `uri` is the full URL exactly as sent (scheme, host,
/// path, query), `body` is empty for requests without one, `timestamp` is the
/// `Shop-Timestamp` (unix seconds).
pub fn signature(secret: &[u8], method: &str, uri: &str, body: &[u8], timestamp: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(method.as_bytes());
    mac.update(b"\n");
    mac.update(uri.as_bytes());
    mac.update(b"\n");
    mac.update(body);
    mac.update(b"\n");
    mac.update(timestamp.to_string().as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_published_vector() {
        let secret = "a7d0cb1da1ddbc86c96ee5fedd341b7d8ebfbb2f5c83cfe0909f4e57f05dd403";
        assert_eq!(
            signature(
                secret.as_bytes(),
                "POST",
                "https://sellerapi.kaufland.com/v2/units/",
                b"",
                1_411_055_926,
            ),
            "da0b65f51c0716c1d3fa658b7eaf710583630a762a98c9af8e9b392bd9df2e2a"
        );
    }

    #[test]
    fn every_part_counts() {
        let base = signature(b"k", "GET", "https://h/v2/units?storefront=de", b"", 1);
        assert_ne!(
            base,
            signature(b"k", "GET", "https://h/v2/units?storefront=at", b"", 1)
        );
        assert_ne!(
            base,
            signature(b"k", "GET", "https://h/v2/units?storefront=de", b"x", 1)
        );
        assert_ne!(
            base,
            signature(b"k", "GET", "https://h/v2/units?storefront=de", b"", 2)
        );
        assert_ne!(
            base,
            signature(b"j", "GET", "https://h/v2/units?storefront=de", b"", 1)
        );
        assert_ne!(
            base,
            signature(b"k", "PATCH", "https://h/v2/units?storefront=de", b"", 1)
        );
    }
}
