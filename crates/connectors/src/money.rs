//! Decimal amounts as the vendors write them ("19.99") to and from integer cents, exactly:
//! no floats.

/// "19.99" -> 1999, "5" -> 500, "-0.5" -> -50. More than two decimals must be zeros
/// ("19.990"); anything else is `None`.
pub fn cents(decimal: &str) -> Option<i64> {
    let decimal = decimal.trim();
    let (negative, digits) = match decimal.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, decimal),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return None;
    }
    let (kept, rest) = fraction.split_at(fraction.len().min(2));
    if rest.bytes().any(|b| b != b'0') {
        return None;
    }
    let minor = format!("{kept:0<2}").parse::<i64>().ok()?;
    let value = whole
        .parse::<i64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(minor)?;
    Some(if negative { -value } else { value })
}

/// 1999 -> "19.99".
pub fn decimal(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_become_cents_exactly() {
        for (text, expected) in [
            ("19.99", Some(1999)),
            ("0.1", Some(10)),
            ("5", Some(500)),
            ("1234567.00", Some(123_456_700)),
            ("19.990", Some(1999)),
            ("-0.50", Some(-50)),
            ("0.29", Some(29)),
            ("19.999", None),
            ("", None),
            (".5", None),
            ("1e3", None),
            ("12,50", None),
            ("99999999999999999999", None),
        ] {
            assert_eq!(cents(text), expected, "{text}");
        }
    }

    #[test]
    fn cents_become_decimals() {
        assert_eq!(decimal(1999), "19.99");
        assert_eq!(decimal(5), "0.05");
        assert_eq!(decimal(-50), "-0.50");
        assert_eq!(decimal(0), "0.00");
    }
}
