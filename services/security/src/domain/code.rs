use rand::Rng;

/// A one-time code as mailed: six digits from the OS's secure generator.
pub fn generate() -> String {
    format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000u32))
}

/// What a user typed, if it can be a code at all (spaces around it are forgiven).
pub fn parse(input: &str) -> Option<&str> {
    let code = input.trim();
    (code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_and_vary() {
        let codes: std::collections::HashSet<String> = (0..50).map(|_| generate()).collect();
        assert!(codes.iter().all(|c| parse(c).is_some()));
        assert!(codes.len() > 40);
    }

    #[test]
    fn only_six_digits_parse() {
        assert_eq!(parse(" 012345 "), Some("012345"));
        for bad in ["12345", "1234567", "12345a", "' OR 1=1", "١٢٣٤٥٦"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
