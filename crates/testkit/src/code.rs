/// Returns the first standalone six-digit number in `text` (a one-time code in a mail).
///
/// "Standalone" means not part of a longer word or number, so neither `1234567` nor `ab123456`
/// match. Panics when there is none.
pub fn extract_code(text: &str) -> String {
    text.split(|c: char| !c.is_alphanumeric())
        .find(|word| word.len() == 6 && word.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or_else(|| panic!("no six-digit code in:\n{text}"))
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_standalone_code() {
        assert_eq!(extract_code("Ihr Code: 123456."), "123456");
        assert_eq!(
            extract_code("Bestellung 1234567, Kunde ab654321, Code 042042 oder 999999"),
            "042042"
        );
        assert_eq!(
            extract_code("https://x.test/verify?code=987654&u=1"),
            "987654"
        );
        assert_eq!(extract_code("Grüße\r\n000111\r\n"), "000111");
    }

    #[test]
    #[should_panic(expected = "no six-digit code")]
    fn panics_without_a_code() {
        extract_code("Datum 2026-11-24, Betrag 12345 Cent");
    }
}
