//! Text from a channel made storable: Postgres refuses NUL in `text` (and `\u0000` in
//! `jsonb`), so one stray byte in a channel's field would fail the whole page, every sync.

/// `text` without NUL characters, cut to at most `max` characters.
pub fn clean(text: &str, max: usize) -> String {
    text.chars().filter(|c| *c != '\0').take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn drops_nul_and_cuts_by_characters() {
        assert_eq!(clean("a\0b\0c", 10), "abc");
        assert_eq!(clean("\0äöü", 2), "äö");
        assert_eq!(clean("", 3), "");
    }
}
