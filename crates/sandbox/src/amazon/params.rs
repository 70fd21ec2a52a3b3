//! Query parameters as SP-API reads them: comma-separated lists, ISO 8601 dates.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use super::MARKETPLACE;

pub(super) struct Params(HashMap<String, String>);

impl Params {
    pub(super) fn parse(raw: Option<&str>) -> Self {
        Params(
            url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        )
    }

    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A comma-delimited list (`collectionFormat: csv`); empty when absent.
    pub(super) fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The required marketplace list: present, at most `max` ids, all of them Amazon.de.
    pub(super) fn marketplaces(&self, name: &str, max: usize) -> Result<(), String> {
        let ids = self.list(name);
        if ids.is_empty() {
            return Err(format!("Missing required parameter '{name}'."));
        }
        if ids.len() > max {
            return Err(format!("'{name}' takes at most {max} values."));
        }
        match ids.iter().find(|id| *id != MARKETPLACE) {
            Some(other) => Err(format!(
                "Invalid '{name}': the seller is not registered in marketplace {other}."
            )),
            None => Ok(()),
        }
    }

    pub(super) fn date(&self, name: &str) -> Result<Option<DateTime<Utc>>, String> {
        self.get(name)
            .map(|v| {
                iso8601(v).ok_or_else(|| format!("'{name}' is not an ISO 8601 date-time: {v}"))
            })
            .transpose()
    }

    /// An integer within `range`, or `default` when absent.
    pub(super) fn number(
        &self,
        name: &str,
        range: std::ops::RangeInclusive<usize>,
        default: usize,
    ) -> Result<usize, String> {
        let Some(value) = self.get(name) else {
            return Ok(default);
        };
        value
            .parse::<usize>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                format!(
                    "'{name}' must be a number from {} to {}.",
                    range.start(),
                    range.end()
                )
            })
    }
}

/// The ISO 8601 forms SP-API takes for a date-time: with a zone (`Z`, `+01:00`, `+0100`),
/// without one (UTC), without seconds, or a plain date (its midnight, UTC).
fn iso8601(value: &str) -> Option<DateTime<Utc>> {
    const ZONED: [&str; 2] = ["%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M%#z"];
    const LOCAL: [&str; 2] = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"];
    DateTime::parse_from_rfc3339(value)
        .ok()
        .or_else(|| {
            ZONED
                .iter()
                .find_map(|format| DateTime::parse_from_str(value, format).ok())
        })
        .map(|d| d.with_timezone(&Utc))
        .or_else(|| {
            LOCAL
                .iter()
                .find_map(|format| NaiveDateTime::parse_from_str(value, format).ok())
                .map(|d| d.and_utc())
        })
        .or_else(|| {
            NaiveDate::parse_from_str(value, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|d| d.and_utc())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_dates_are_read() {
        let p = Params::parse(Some(
            "MarketplaceIds=A1PA6795UKMFR9%2CATVPDKIKX0DER&After=2026-01-02T03%3A04%3A05Z&N=101",
        ));
        assert_eq!(p.list("MarketplaceIds").len(), 2);
        assert!(p.marketplaces("MarketplaceIds", 50).is_err());
        assert!(p.marketplaces("Missing", 50).is_err());
        assert!(p.date("After").unwrap().is_some());
        assert!(p.number("N", 1..=100, 100).is_err());
        assert_eq!(p.number("M", 1..=100, 100), Ok(100));
    }

    #[test]
    fn dates_take_the_iso_8601_forms_sp_api_takes() {
        let utc = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        for (given, meant) in [
            ("2026-01-02T03:04:05Z", "2026-01-02T03:04:05Z"),
            ("2026-01-02T03:04:05.250Z", "2026-01-02T03:04:05.250Z"),
            ("2026-01-02T04:04:05+01:00", "2026-01-02T03:04:05Z"),
            ("2026-01-02T04:04:05+0100", "2026-01-02T03:04:05Z"),
            ("2026-01-02T03:04Z", "2026-01-02T03:04:00Z"),
            ("2026-01-02T03:04:05", "2026-01-02T03:04:05Z"),
            ("2026-01-02T03:04:05.5", "2026-01-02T03:04:05.5Z"),
            ("2026-01-02T03:04", "2026-01-02T03:04:00Z"),
            ("2026-01-02", "2026-01-02T00:00:00Z"),
        ] {
            assert_eq!(iso8601(given), Some(utc(meant)), "{given}");
        }
        for bad in [
            "yesterday",
            "2026-13-01",
            "2026-01-02T25:00:00Z",
            "02.01.2026",
            "",
        ] {
            assert_eq!(iso8601(bad), None, "{bad}");
        }
        let p = Params::parse(Some(
            "CreatedAfter=2026-01-01&LastUpdatedAfter=2026-01-01T00%3A00%3A00",
        ));
        assert_eq!(
            p.date("CreatedAfter"),
            Ok(Some(utc("2026-01-01T00:00:00Z")))
        );
        assert_eq!(
            p.date("LastUpdatedAfter"),
            Ok(Some(utc("2026-01-01T00:00:00Z")))
        );
        assert!(Params::parse(Some("CreatedAfter=soon"))
            .date("CreatedAfter")
            .is_err());
    }
}
