use sm_http::FieldError;

/// A normalised (trimmed, lower-cased) email address that is safe to put in a mail header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let invalid = || FieldError::new("email", "invalid_email", "Enter a valid email address.");
        let email = raw.trim().to_lowercase();
        if email.len() > Self::MAX_LEN {
            return Err(FieldError::new(
                "email",
                "too_long",
                "The email address is too long.",
            ));
        }
        // No control characters (CRLF header injection), no spaces, no quoting.
        if email
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || "\"<>(),;:\\[]".contains(c))
        {
            return Err(invalid());
        }
        let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
        let domain_ok = domain.len() >= 3
            && domain.contains('.')
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..");
        if !domain_ok || !local_ok {
            return Err(invalid());
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_whitespace() {
        assert_eq!(
            Email::parse("  Anna.Schmidt@Example.DE ").unwrap().as_str(),
            "anna.schmidt@example.de"
        );
    }

    #[test]
    fn accepts_plus_addresses_and_umlaut_domains() {
        assert!(Email::parse("anna+shop@example.de").is_ok());
        assert!(Email::parse("info@müller.de").is_ok());
    }

    #[test]
    fn refuses_header_injection_and_garbage() {
        for bad in [
            "a@b.de\r\nBcc: x@y.de",
            "a@b.de\nX: y",
            "no-at-sign.de",
            "@example.de",
            "a@localhost",
            "a..b@example.de",
            "a@-x.de",
            "a b@example.de",
            "\"quoted\"@example.de",
            "a@b@c.de",
            "",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn refuses_overlong_addresses() {
        let long = format!("{}@example.de", "a".repeat(250));
        assert_eq!(Email::parse(&long).unwrap_err().code, "too_long");
        let long_local = format!("{}@example.de", "a".repeat(65));
        assert!(Email::parse(&long_local).is_err());
    }
}
