//! VAT identification numbers (USt-IdNr.).

use sm_http::FieldError;

/// Normalises (upper case, no spaces, dots or dashes) and checks a VAT id: German ids fully
/// (DE + 9 digits with the ISO 7064 MOD 11,10 check digit the Federal Central Tax Office
/// uses), other EU ids by their country prefix and length.
pub fn parse(raw: &str) -> Result<String, FieldError> {
    let id: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let invalid = || {
        FieldError::new(
            "vat_id",
            "invalid_vat_id",
            "Enter a valid VAT id, e.g. DE123456789.",
        )
    };
    let (country, number) = id.split_at_checked(2).ok_or_else(invalid)?;
    let ok = match country {
        "DE" => {
            number.len() == 9
                && number.bytes().all(|b| b.is_ascii_digit())
                && german_check_digit_ok(number)
        }
        "AT" => {
            number.len() == 9
                && number.starts_with('U')
                && number[1..].bytes().all(|b| b.is_ascii_digit())
        }
        "BE" | "BG" | "CY" | "CZ" | "DK" | "EE" | "EL" | "ES" | "FI" | "FR" | "HR" | "HU"
        | "IE" | "IT" | "LT" | "LU" | "LV" | "MT" | "NL" | "PL" | "PT" | "RO" | "SE" | "SI"
        | "SK" | "XI" => {
            (8..=12).contains(&number.len()) && number.bytes().all(|b| b.is_ascii_alphanumeric())
        }
        _ => false,
    };
    if ok {
        Ok(id)
    } else {
        Err(invalid())
    }
}

fn german_check_digit_ok(digits: &str) -> bool {
    let d: Vec<u32> = digits.bytes().map(|b| u32::from(b - b'0')).collect();
    let mut product = 10;
    for &digit in &d[..8] {
        let mut sum = (digit + product) % 10;
        if sum == 0 {
            sum = 10;
        }
        product = (2 * sum) % 11;
    }
    let check = (11 - product) % 10;
    check == d[8]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn german_ids_need_the_right_check_digit() {
        assert_eq!(parse("DE136695976").unwrap(), "DE136695976");
        assert_eq!(parse("de 811 907 980").unwrap(), "DE811907980");
        assert!(parse("DE123456789").is_err(), "wrong check digit");
        assert!(parse("DE12345678").is_err(), "too short");
        assert!(parse("DE13669597X").is_err());
    }

    #[test]
    fn other_eu_ids_by_shape() {
        assert!(parse("ATU12345678").is_ok());
        assert!(parse("FR12345678901").is_ok());
        assert!(parse("AT12345678").is_err());
        assert!(parse("US123456789").is_err());
        assert!(parse("").is_err());
        assert!(parse("' OR 1=1").is_err());
    }
}
