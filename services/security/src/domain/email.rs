use sm_http::FieldError;
use unicode_normalization::UnicodeNormalization;

/// An email address in its one canonical spelling, safe to put in a mail header: trimmed,
/// lower-cased, the local part in Unicode NFC and the domain in its IDNA ASCII form
/// (`bücher.test` becomes `xn--bcher-kva.test`). Every spelling of one mailbox gives the same
/// `Email`, so accounts are found and kept unique by it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let invalid = || FieldError::new("email", "invalid_email", "Enter a valid email address.");
        let too_long = || FieldError::new("email", "too_long", "The email address is too long.");
        let email = raw.trim().to_lowercase();
        // Checked before the work below, which is not free for megabytes of input.
        if email.len() > 4 * Self::MAX_LEN {
            return Err(too_long());
        }
        // No control characters (CRLF header injection), no spaces, no quoting.
        if email
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || "\"<>(),;:\\[]".contains(c))
        {
            return Err(invalid());
        }
        let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
        let local: String = local.nfc().collect();
        let domain = idna::domain_to_ascii(domain).map_err(|_| invalid())?;
        let email = format!("{local}@{domain}");
        if email.len() > Self::MAX_LEN {
            return Err(too_long());
        }
        let domain_ok = domain.len() >= 3
            && domain.contains('.')
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
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
        assert_eq!(
            Email::parse("info@müller.de").unwrap().as_str(),
            "info@xn--mller-kva.de"
        );
    }

    #[test]
    fn every_spelling_of_one_mailbox_is_one_email() {
        let canonical = |raw: &str| Email::parse(raw).unwrap().as_str().to_owned();
        // IDNA: the Unicode domain and its punycode are one domain.
        assert_eq!(canonical("acc@bücher.test"), "acc@xn--bcher-kva.test");
        assert_eq!(
            canonical("acc@xn--bcher-kva.test"),
            "acc@xn--bcher-kva.test"
        );
        assert_eq!(canonical("ACC@BÜCHER.TEST"), "acc@xn--bcher-kva.test");
        assert_eq!(
            canonical("ACC@XN--BCHER-KVA.TEST"),
            "acc@xn--bcher-kva.test"
        );
        // NFC: a precomposed ü and u + combining diaeresis are one character.
        let nfc = "j\u{fc}rgen@example.de";
        let nfd = "j\u{75}\u{308}rgen@example.de";
        assert_ne!(nfc, nfd);
        assert_eq!(canonical(nfd), canonical(nfc));
        assert_eq!(canonical("J\u{dc}RGEN@example.de"), canonical(nfc));
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
            "a@xn--zz-invalid-punycode-\u{fc}.de",
            "a@b_c.de",
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
