//! The Amazon marketplaces a connection may name: their region (which SP-API host serves
//! them), storefront and currency. The api validates a connection's region and marketplace
//! against this one table.

/// Amazon.de.
pub const GERMANY: &str = "A1PA6795UKMFR9";

/// The SP-API regions: Europe, North America, Far East.
pub const REGIONS: [&str; 3] = ["eu", "na", "fe"];

struct Marketplace {
    id: &'static str,
    region: &'static str,
    storefront: &'static str,
    currency: &'static str,
}

const fn marketplace(
    id: &'static str,
    region: &'static str,
    storefront: &'static str,
    currency: &'static str,
) -> Marketplace {
    Marketplace {
        id,
        region,
        storefront,
        currency,
    }
}

const MARKETPLACES: &[Marketplace] = &[
    marketplace(GERMANY, "eu", "amazon.de", "EUR"),
    marketplace("A13V1IB3VIYZZH", "eu", "amazon.fr", "EUR"),
    marketplace("APJ6JRA9NG5V4", "eu", "amazon.it", "EUR"),
    marketplace("A1RKKUPIHCS9HS", "eu", "amazon.es", "EUR"),
    marketplace("A1805IZSGTT6HS", "eu", "amazon.nl", "EUR"),
    marketplace("AMEN7PMS3EDWL", "eu", "amazon.com.be", "EUR"),
    marketplace("A1C3SOZRARQ6R3", "eu", "amazon.pl", "PLN"),
    marketplace("A2NODRKZP88ZB9", "eu", "amazon.se", "SEK"),
    marketplace("A1F83G8C2ARO7P", "eu", "amazon.co.uk", "GBP"),
    marketplace("A28R8C7NBKEWEA", "eu", "amazon.ie", "EUR"),
    marketplace("A33AVAJ2PDY3EV", "eu", "amazon.com.tr", "TRY"),
    marketplace("ATVPDKIKX0DER", "na", "amazon.com", "USD"),
    marketplace("A2EUQ1WTGCTBG2", "na", "amazon.ca", "CAD"),
    marketplace("A1AM78C64UM0Y8", "na", "amazon.com.mx", "MXN"),
    marketplace("A2Q3Y263D00KWC", "na", "amazon.com.br", "BRL"),
    marketplace("A1VC38T7YXB528", "fe", "amazon.co.jp", "JPY"),
    marketplace("A39IBJ37TRP1C6", "fe", "amazon.com.au", "AUD"),
    marketplace("A19VAU5U5O7RUS", "fe", "amazon.sg", "SGD"),
];

fn find(marketplace_id: &str) -> Option<&'static Marketplace> {
    MARKETPLACES.iter().find(|m| m.id == marketplace_id)
}

/// The region (`eu`, `na`, `fe`) whose host serves a marketplace; `None` for an id this
/// client does not know.
pub fn marketplace_region(marketplace_id: &str) -> Option<&'static str> {
    find(marketplace_id).map(|m| m.region)
}

/// The storefront of a marketplace, or its id when it is not one we know.
pub(crate) fn storefront(marketplace_id: &str) -> &str {
    find(marketplace_id).map_or(marketplace_id, |m| m.storefront)
}

/// The currency a marketplace sells in, where we know it.
pub(crate) fn currency(marketplace_id: &str) -> Option<&'static str> {
    find(marketplace_id).map(|m| m.currency)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn germany_sells_in_euros() {
        assert_eq!(currency(GERMANY), Some("EUR"));
        assert_eq!(storefront(GERMANY), "amazon.de");
        assert_eq!(storefront("XYZ"), "XYZ");
    }

    #[test]
    fn every_marketplace_is_in_a_region_once() {
        assert_eq!(marketplace_region(GERMANY), Some("eu"));
        assert_eq!(marketplace_region("ATVPDKIKX0DER"), Some("na"));
        assert_eq!(marketplace_region("A1VC38T7YXB528"), Some("fe"));
        assert_eq!(marketplace_region("XYZ"), None);
        for (i, m) in MARKETPLACES.iter().enumerate() {
            assert!(REGIONS.contains(&m.region), "{}", m.id);
            assert!(
                MARKETPLACES[i + 1..].iter().all(|o| o.id != m.id),
                "{}",
                m.id
            );
        }
    }
}
