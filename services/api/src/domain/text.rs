//! Checks for free text fields.

use sm_http::FieldError;

/// Trimmed text of at most `max` characters without control characters (tabs and newlines
/// allowed only where `multiline`).
pub fn clean(
    field: &'static str,
    raw: &str,
    max: usize,
    multiline: bool,
) -> Result<String, FieldError> {
    let text = raw.trim();
    if text.chars().count() > max {
        return Err(FieldError::new(
            field,
            "too_long",
            format!("Use at most {max} characters."),
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t')))
    {
        return Err(FieldError::new(
            field,
            "invalid_characters",
            "Remove control characters.",
        ));
    }
    Ok(text.to_owned())
}

/// Like [`clean`], and not empty.
pub fn required(field: &'static str, raw: &str, max: usize) -> Result<String, FieldError> {
    let text = clean(field, raw, max, false)?;
    if text.is_empty() {
        return Err(FieldError::new(
            field,
            "required",
            "This field is required.",
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_bounds() {
        assert_eq!(
            clean("f", "  Müller GmbH ", 20, false).unwrap(),
            "Müller GmbH"
        );
        assert_eq!(
            clean("f", &"ä".repeat(21), 20, false).unwrap_err().code,
            "too_long"
        );
        assert_eq!(
            clean("f", "a\nb", 20, false).unwrap_err().code,
            "invalid_characters"
        );
        assert_eq!(clean("f", "a\nb", 20, true).unwrap(), "a\nb");
        assert_eq!(required("f", "   ", 20).unwrap_err().code, "required");
    }
}
