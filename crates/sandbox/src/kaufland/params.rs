//! Query parameters as Kaufland reads them: arrays repeated (`status=a&status=b`) or
//! comma-separated, invalid values refused with a validation error naming the field.

use chrono::{DateTime, Utc};

use super::problem::Problem;

/// The only storefront the sandbox seller has set up.
pub const STOREFRONT: &str = "de";
const STOREFRONTS: &[&str] = &["de", "cz", "sk", "pl", "at", "fr", "it"];

pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(query: Option<&str>) -> Self {
        Params(
            url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        )
    }

    pub fn one(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of an array parameter.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name || k.strip_suffix("[]") == Some(name))
            .flat_map(|(_, v)| v.split(','))
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// `storefront`; the sandbox seller sells on `de` only, like a seller who set up one.
    pub fn storefront(&self, required: bool) -> Result<Option<&str>, Problem> {
        let Some(value) = self.one("storefront") else {
            return if required {
                Err(Problem::invalid("storefront", "This value is required."))
            } else {
                Ok(None)
            };
        };
        if !STOREFRONTS.contains(&value) {
            return Err(Problem::invalid(
                "storefront",
                format!("must be one of {}", STOREFRONTS.join(", ")),
            ));
        }
        if value != STOREFRONT {
            return Err(Problem::new(
                http::StatusCode::BAD_REQUEST,
                "/problems/storefront-not-configured",
                format!("Storefront {value} is not configured for this seller"),
            ));
        }
        Ok(Some(value))
    }

    /// An integer in `min..=max`, `default` when absent.
    pub fn int(&self, name: &str, default: i64, min: i64, max: i64) -> Result<i64, Problem> {
        let Some(value) = self.one(name) else {
            return Ok(default);
        };
        value
            .parse::<i64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| {
                Problem::invalid(name, format!("must be an integer from {min} to {max}"))
            })
    }

    /// A `YYYY-MM-ddTHH:mm:ssZ` timestamp (any RFC 3339 offset accepted).
    pub fn time(&self, name: &str) -> Result<Option<DateTime<Utc>>, Problem> {
        self.one(name)
            .map(|value| {
                DateTime::parse_from_rfc3339(value)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| Problem::invalid(name, "must be in YYYY-MM-ddTHH:mm:ssZ format"))
            })
            .transpose()
    }
}

/// `offset` and `limit` (`limit_min` is 0 on `/units`, 1 on the order lists).
pub fn paging(params: &Params, limit_min: i64) -> Result<(usize, usize), Problem> {
    let limit = params.int("limit", 30, limit_min, 100)?;
    let offset = params.int("offset", 0, 0, i64::from(i32::MAX))?;
    Ok((offset as usize, limit as usize))
}
