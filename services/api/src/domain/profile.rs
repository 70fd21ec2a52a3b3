//! The merchant's company profile.

use serde::Deserialize;
use sm_http::FieldError;
use utoipa::ToSchema;

use super::{text, vat_id};

/// What the merchant sends; every field optional so a profile can be filled in over time.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ProfileInput {
    #[serde(default)]
    #[schema(max_length = 200, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    pub company_name: String,
    #[serde(default)]
    #[schema(max_length = 200, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    pub street: String,
    /// Five digits in Germany.
    #[serde(default)]
    #[schema(max_length = 20, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    pub postal_code: String,
    #[serde(default)]
    #[schema(max_length = 100, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    pub city: String,
    /// ISO 3166-1 alpha-2; DE when empty.
    #[serde(default)]
    #[schema(pattern = "^\\s*([A-Za-z]{2})?\\s*$")]
    pub country: String,
    /// Digits, spaces and + ( ) / - only.
    #[serde(default)]
    #[schema(max_length = 40, pattern = "^[0-9 +()/-]*$")]
    pub phone: String,
    /// USt-IdNr., e.g. DE123456789 (checked).
    #[serde(default)]
    pub vat_id: Option<String>,
    #[serde(default)]
    pub billing_email: String,
    #[serde(default)]
    #[schema(max_length = 200, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    pub billing_name: String,
}

/// A checked profile, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub company_name: String,
    pub street: String,
    pub postal_code: String,
    pub city: String,
    pub country: String,
    pub phone: String,
    pub vat_id: Option<String>,
    pub billing_email: String,
    pub billing_name: String,
}

impl Profile {
    pub fn parse(input: &ProfileInput) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut take = |r: Result<String, FieldError>| {
            r.unwrap_or_else(|e| {
                errors.push(e);
                String::new()
            })
        };
        let company_name = take(text::clean("company_name", &input.company_name, 200, false));
        let street = take(text::clean("street", &input.street, 200, false));
        let postal_code = take(text::clean("postal_code", &input.postal_code, 20, false));
        let city = take(text::clean("city", &input.city, 100, false));
        let phone = take(text::clean("phone", &input.phone, 40, false));
        let billing_name = take(text::clean("billing_name", &input.billing_name, 200, false));
        let billing_email = take(text::clean(
            "billing_email",
            &input.billing_email,
            254,
            false,
        ));
        let country = match input.country.trim() {
            "" => "DE".to_owned(),
            c if c.len() == 2 && c.chars().all(|ch| ch.is_ascii_alphabetic()) => {
                c.to_ascii_uppercase()
            }
            _ => {
                errors.push(FieldError::new(
                    "country",
                    "invalid_country",
                    "Use a two-letter country code such as DE.",
                ));
                String::new()
            }
        };
        if !billing_email.is_empty() && !looks_like_email(&billing_email) {
            errors.push(FieldError::new(
                "billing_email",
                "invalid_email",
                "Enter a valid email address.",
            ));
        }
        if country == "DE"
            && !postal_code.is_empty()
            && !(postal_code.len() == 5 && postal_code.bytes().all(|b| b.is_ascii_digit()))
        {
            errors.push(FieldError::new(
                "postal_code",
                "invalid_postal_code",
                "German postal codes have five digits.",
            ));
        }
        if !phone.is_empty()
            && !phone
                .chars()
                .all(|c| c.is_ascii_digit() || " +()/-".contains(c))
        {
            errors.push(FieldError::new(
                "phone",
                "invalid_phone",
                "Use digits, spaces and + ( ) / - only.",
            ));
        }
        let vat_id = match input.vat_id.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => match vat_id::parse(raw) {
                Ok(id) => Some(id),
                Err(e) => {
                    errors.push(e);
                    None
                }
            },
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Profile {
            company_name,
            street,
            postal_code,
            city,
            country,
            phone,
            vat_id,
            billing_email,
            billing_name,
        })
    }
}

/// The fields a profile needs before the merchant can work with it (the VAT id is optional:
/// small businesses under § 19 UStG have none).
pub fn missing_fields(p: &Profile) -> Vec<&'static str> {
    [
        ("company_name", &p.company_name),
        ("street", &p.street),
        ("postal_code", &p.postal_code),
        ("city", &p.city),
        ("phone", &p.phone),
        ("billing_email", &p.billing_email),
    ]
    .into_iter()
    .filter(|(_, value)| value.is_empty())
    .map(|(name, _)| name)
    .collect()
}

fn looks_like_email(s: &str) -> bool {
    matches!(s.split_once('@'), Some((local, domain)) if !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.'))
        && !s.contains(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete() -> ProfileInput {
        ProfileInput {
            company_name: "Müller Handel GmbH".into(),
            street: "Hauptstraße 1".into(),
            postal_code: "50667".into(),
            city: "Köln".into(),
            country: "de".into(),
            phone: "+49 221 123456".into(),
            vat_id: Some("DE 136 695 976".into()),
            billing_email: "buchhaltung@mueller.de".into(),
            billing_name: "Buchhaltung".into(),
        }
    }

    #[test]
    fn a_complete_profile_parses_normalised() {
        let p = Profile::parse(&complete()).unwrap();
        assert_eq!(p.country, "DE");
        assert_eq!(p.vat_id.as_deref(), Some("DE136695976"));
        assert!(missing_fields(&p).is_empty());
    }

    #[test]
    fn missing_required_fields_are_named() {
        let p = Profile::parse(&ProfileInput {
            company_name: "X".into(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            missing_fields(&p),
            ["street", "postal_code", "city", "phone", "billing_email"]
        );
    }

    #[test]
    fn every_bad_field_is_reported() {
        let input = ProfileInput {
            postal_code: "5066".into(),
            vat_id: Some("DE123456789".into()),
            billing_email: "nope".into(),
            phone: "call me".into(),
            country: "Germany".into(),
            ..complete()
        };
        let fields: Vec<_> = Profile::parse(&input)
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["country", "billing_email", "phone", "vat_id"]);
    }
}
