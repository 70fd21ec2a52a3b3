//! What each Amazon marketplace sells in, and prices as the Listings attributes take them.

/// Cents as the JSON number the Listings attributes take (`1999` → `19.99`), written from
/// the exact decimal.
pub(crate) fn decimal(cents: i64) -> serde_json::Value {
    serde_json::from_str(&crate::money::decimal(cents)).unwrap_or(serde_json::Value::Null)
}

/// (marketplace id, storefront, currency) of the marketplaces a seller is likely to use.
const MARKETPLACES: &[(&str, &str, &str)] = &[
    ("A1PA6795UKMFR9", "amazon.de", "EUR"),
    ("A13V1IB3VIYZZH", "amazon.fr", "EUR"),
    ("APJ6JRA9NG5V4", "amazon.it", "EUR"),
    ("A1RKKUPIHCS9HS", "amazon.es", "EUR"),
    ("A1805IZSGTT6HS", "amazon.nl", "EUR"),
    ("AMEN7PMS3EDWL", "amazon.com.be", "EUR"),
    ("A28R8C7NBKEWEA", "amazon.ie", "EUR"),
    ("A1F83G8C2ARO7P", "amazon.co.uk", "GBP"),
    ("A2NODRKZP88ZB9", "amazon.se", "SEK"),
    ("A1C3SOZRARQ6R3", "amazon.pl", "PLN"),
    ("ATVPDKIKX0DER", "amazon.com", "USD"),
];

/// The storefront of a marketplace, or its id when it is not one we know.
pub(crate) fn storefront(marketplace_id: &str) -> &str {
    MARKETPLACES
        .iter()
        .find(|(id, ..)| *id == marketplace_id)
        .map_or(marketplace_id, |(_, store, _)| store)
}

/// The currency a marketplace sells in, where we know it.
pub(crate) fn currency(marketplace_id: &str) -> Option<&'static str> {
    MARKETPLACES
        .iter()
        .find(|(id, ..)| *id == marketplace_id)
        .map(|(.., currency)| *currency)
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

    #[test]
    fn germany_sells_in_euros() {
        assert_eq!(currency("A1PA6795UKMFR9"), Some("EUR"));
        assert_eq!(storefront("A1PA6795UKMFR9"), "amazon.de");
        assert_eq!(storefront("XYZ"), "XYZ");
    }
}
