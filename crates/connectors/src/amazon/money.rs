//! Prices as the Listings attributes take them.

/// Cents as the JSON number the Listings attributes take (`1999` → `19.99`), written from
/// the exact decimal.
pub(crate) fn decimal(cents: i64) -> serde_json::Value {
    serde_json::from_str(&crate::money::decimal(cents)).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cents_print_as_two_decimals() {
        assert_eq!(decimal(1999).to_string(), "19.99");
        assert_eq!(decimal(10).to_string(), "0.1");
        assert_eq!(decimal(123_456_789).to_string(), "1234567.89");
    }
}
