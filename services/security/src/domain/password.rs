use secrecy::{ExposeSecret, SecretString};
use sm_http::FieldError;
use unicode_normalization::UnicodeNormalization;
use zxcvbn::{zxcvbn, Score};

pub const MIN_CHARS: usize = 8;
pub const MAX_CHARS: usize = 128;

/// The form a password is hashed and compared in: Unicode NFKC, so the same password typed on
/// different keyboards (composed or decomposed umlauts, full-width digits) is the same secret.
pub fn normalize(raw: &str) -> SecretString {
    SecretString::from(raw.nfkc().collect::<String>())
}

/// A password that meets the policy: 8 to 128 characters after NFKC, not weak or common.
pub struct NewPassword(SecretString);

impl NewPassword {
    /// `context` holds words the password must not be built from (email, name).
    pub fn parse(raw: &str, context: &[&str]) -> Result<Self, FieldError> {
        // Check the raw size first so a huge input costs nothing more (4 bytes per char at most).
        if raw.len() > MAX_CHARS * 4 {
            return Err(too_long());
        }
        let normalized = normalize(raw);
        let chars = normalized.expose_secret().chars().count();
        if chars < MIN_CHARS {
            return Err(FieldError::new(
                "password",
                "too_short",
                format!("Use at least {MIN_CHARS} characters."),
            ));
        }
        if chars > MAX_CHARS {
            return Err(too_long());
        }
        if zxcvbn(normalized.expose_secret(), context).score() < Score::Two {
            return Err(FieldError::new(
                "password",
                "too_weak",
                "This password is too easy to guess; add more words or characters.",
            ));
        }
        Ok(Self(normalized))
    }

    pub fn into_secret(self) -> SecretString {
        self.0
    }
}

fn too_long() -> FieldError {
    FieldError::new(
        "password",
        "too_long",
        format!("Use at most {MAX_CHARS} characters."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(raw: &str) -> Result<(), String> {
        NewPassword::parse(raw, &["anna@example.de"])
            .map(|_| ())
            .map_err(|e| e.code.into_owned())
    }

    #[test]
    fn length_bounds_count_characters() {
        assert_eq!(code(""), Err("too_short".into()));
        assert_eq!(code("Xk9#qLp"), Err("too_short".into())); // 7
        assert_eq!(code("Xk9#qLp2"), Ok(())); // 8
        assert_eq!(code(&"Zq7!mW3x".repeat(16)), Ok(())); // 128
        assert_eq!(
            code(&format!("{}a", "Zq7!mW3x".repeat(16))),
            Err("too_long".into())
        );
        assert_eq!(code(&"x".repeat(10_000)), Err("too_long".into()));
    }

    #[test]
    fn long_passwords_are_not_truncated() {
        // 72 bytes is where bcrypt silently truncates; these two differ only after that.
        let a = format!("{}A", "Vogel-Baum-Haus-".repeat(5));
        let b = format!("{}B", "Vogel-Baum-Haus-".repeat(5));
        assert_ne!(normalize(&a).expose_secret(), normalize(&b).expose_secret());
        assert!(NewPassword::parse(&a, &[]).is_ok());
    }

    #[test]
    fn emoji_and_umlauts_are_characters() {
        assert_eq!(code("🦀🦀🦀🦀🦀🦀🦀"), Err("too_short".into()));
        assert_eq!(code("Grüße🦀aus🦀Köln🦀2026"), Ok(()));
    }

    #[test]
    fn nfkc_makes_composed_and_decomposed_equal() {
        assert_eq!(
            normalize("Gru\u{308}ße").expose_secret(),
            normalize("Grüße").expose_secret()
        );
    }

    #[test]
    fn common_and_contextual_passwords_are_refused() {
        assert_eq!(code("password1"), Err("too_weak".into()));
        assert_eq!(code("12345678"), Err("too_weak".into()));
        assert_eq!(code("anna@example.de"), Err("too_weak".into()));
    }
}
