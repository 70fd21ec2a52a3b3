//! Opaque keyset-pagination cursors: the sort key and id of the last row a page showed.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::Serialize;

pub fn encode<T: Serialize>(key: &T) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).expect("cursor keys serialise"))
}

/// `None` for anything that is not a cursor this service made.
pub fn decode<T: DeserializeOwned>(cursor: &str) -> Option<T> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_garbage() {
        let id = uuid::Uuid::now_v7();
        let cursor = encode(&(Some("Kaffee".to_owned()), id));
        assert_eq!(
            decode::<(Option<String>, uuid::Uuid)>(&cursor),
            Some((Some("Kaffee".to_owned()), id))
        );
        assert_eq!(decode::<(Option<String>, uuid::Uuid)>("not a cursor"), None);
        assert_eq!(decode::<(Option<String>, uuid::Uuid)>(&encode(&42)), None);
    }
}
