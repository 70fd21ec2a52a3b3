//! The data-processing agreement (AVV, GDPR Art. 28): versioned texts kept in the repository
//! (`services/api/avv/`), German binding with an English translation.

pub mod pdf;

use sha2::{Digest, Sha256};
pub use sm_domain::Language;
use sm_http::ApiError;
use uuid::Uuid;

use crate::db;
use crate::error::Result;
use crate::state::AppState;

/// The version merchants must have signed to connect shops.
pub const CURRENT: &str = "2026-11";

/// Every published version: (version, German, English). Never edit a published text: its
/// hash is in the signatures.
const VERSIONS: &[(&str, &str, &str)] = &[(
    "2026-11",
    include_str!("../../avv/v2026-11.de.md"),
    include_str!("../../avv/v2026-11.en.md"),
)];

/// The exact text of a version in a language.
pub fn text(version: &str, language: Language) -> Option<&'static str> {
    VERSIONS
        .iter()
        .find(|(v, _, _)| *v == version)
        .map(|(_, de, en)| match language {
            Language::De => *de,
            Language::En => *en,
        })
}

/// 403 `avv_signature_required` unless the user signed the current AVV: no shop is connected
/// before.
pub async fn require_signed(state: &AppState, user_id: Uuid) -> Result<()> {
    if db::avv::find(&state.db, user_id, CURRENT).await?.is_none() {
        return Err(ApiError::forbidden(
            "avv_signature_required",
            "Sign the current data-processing agreement (AVV) before connecting shops.",
        )
        .into());
    }
    Ok(())
}

/// Hex SHA-256 of the exact bytes of a text: what a signature commits to.
pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_current_version_exists_in_both_languages() {
        let de = text(CURRENT, Language::De).unwrap();
        let en = text(CURRENT, Language::En).unwrap();
        assert!(de.contains("Art. 28 DSGVO") && en.contains("Art. 28 GDPR"));
        assert_ne!(sha256_hex(de), sha256_hex(en));
        assert_eq!(sha256_hex(de).len(), 64);
        assert!(text("1999-01", Language::De).is_none());
    }
}
