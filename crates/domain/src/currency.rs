/// Whether `code` looks like an ISO 4217 currency code (three capital letters). Money is
/// always integer minor units (cents) plus such a code, never a float.
pub fn is_currency_code(code: &str) -> bool {
    code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    #[test]
    fn three_capital_letters() {
        assert!(super::is_currency_code("EUR"));
        for bad in ["eur", "EURO", "E1R", "", "€"] {
            assert!(!super::is_currency_code(bad), "{bad}");
        }
    }
}
