/// The active ISO 4217 currency codes (list one, 2025: national currencies and the
/// supranational XAF, XCD, XCG, XOF, XPF; without fund, precious-metal and test codes, which
/// nothing is sold in), sorted.
const ACTIVE: [&str; 157] = [
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD",
    "CDF", "CHF", "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD",
    "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ",
    "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD",
    "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR",
    "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR",
    "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN",
    "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR",
    "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB",
    "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS",
    "VED", "VES", "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW",
    "ZWG",
];

/// Every code [`is_currency_code`] accepts, sorted: for documents and forms.
pub fn currency_codes() -> &'static [&'static str] {
    &ACTIVE
}

/// Whether `code` is an active ISO 4217 currency code, in capitals (`EUR`). Money is always
/// integer minor units (cents) plus such a code, never a float.
pub fn is_currency_code(code: &str) -> bool {
    ACTIVE.binary_search(&code).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_sorted_and_three_capitals_each() {
        assert!(ACTIVE.windows(2).all(|w| w[0] < w[1]));
        assert!(ACTIVE
            .iter()
            .all(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase())));
    }

    #[test]
    fn iso_codes_only() {
        for good in ["EUR", "USD", "CHF", "PLN", "CZK", "GBP", "JPY", "SEK"] {
            assert!(is_currency_code(good), "{good}");
        }
        for bad in [
            "QQQ", "XXX", "XTS", "eur", "EURO", "E1R", "", "€", "DEM", "HRK",
        ] {
            assert!(!is_currency_code(bad), "{bad}");
        }
    }
}
