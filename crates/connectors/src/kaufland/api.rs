//! Signed calls to the Seller API: every attempt is signed afresh, paced by the client
//! key's rate limiter, and its answer sorted into data, a refusal, or an error; offset
//! pagination of the lists.

use http::Method;
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use url::Url;

use super::errors::Problem;
use super::signing::signature;
use super::Client;
use crate::{ChannelError, Cursor};

impl Client {
    /// The API URL of `path` (segments, percent-encoded) with `query`. A segment the URL
    /// would resolve away (`.`, `..`, empty; only an id from the network can be one) is
    /// refused rather than let it address another resource.
    pub(super) fn url(&self, path: &[&str], query: &[(&str, String)]) -> Result<Url, ChannelError> {
        if let Some(bad) = path.iter().find(|s| !crate::transport::is_path_segment(s)) {
            return Err(ChannelError::protocol(format!(
                "{:?} cannot be part of a Kaufland URL",
                crate::error::clip(bad)
            )));
        }
        let invalid = || ChannelError::protocol("the Kaufland API base URL is not usable");
        let mut url = Url::parse(&self.base).map_err(|_| invalid())?;
        url.path_segments_mut()
            .map_err(|_| invalid())?
            .pop_if_empty()
            .extend(path);
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (k, v.as_str())));
        }
        Ok(url)
    }

    /// Sends one signed request; `Ok(Err(problem))` is Kaufland refusing the request
    /// itself (4xx other than about the credentials).
    pub(super) async fn call(
        &self,
        method: Method,
        url: &Url,
        body: Option<Vec<u8>>,
    ) -> Result<Result<Vec<u8>, Problem>, ChannelError> {
        super::keep_bounded(&self.limiter);
        self.limiter
            .until_key_ready(&self.credentials.client_key)
            .await;
        let response = self
            .transport
            .send(|client| self.signed(client, &method, url, body.as_deref()))
            .await?;
        let status = response.status();
        let bytes = crate::read_body(response).await?;
        if status.is_success() {
            return Ok(Ok(bytes));
        }
        if !status.is_client_error() {
            return Err(ChannelError::protocol(format!(
                "Kaufland answered HTTP {status}"
            )));
        }
        let problem = Problem::parse(status, &bytes);
        if problem.is_about_credentials(status) {
            return Err(problem.into_credentials_error());
        }
        Ok(Err(problem))
    }

    /// A read: the decoded data, any refusal being an error.
    pub(super) async fn read<T: DeserializeOwned>(&self, url: &Url) -> Result<T, ChannelError> {
        let bytes = self
            .call(Method::GET, url, None)
            .await?
            .map_err(Problem::into_read_error)?;
        decode(&bytes)
    }

    fn signed(
        &self,
        client: &reqwest::Client,
        method: &Method,
        url: &Url,
        body: Option<&[u8]>,
    ) -> reqwest::RequestBuilder {
        let timestamp = chrono::Utc::now().timestamp();
        let sig = signature(
            self.credentials.secret_key.expose_secret().as_bytes(),
            method.as_str(),
            url.as_str(),
            body.unwrap_or_default(),
            timestamp,
        );
        let request = client
            .request(method.clone(), url.clone())
            .header("Shop-Client-Key", &self.credentials.client_key)
            .header("Shop-Timestamp", timestamp.to_string())
            .header("Shop-Signature", sig)
            .header(http::header::ACCEPT, "application/json");
        match body {
            Some(body) => request
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(body.to_vec()),
            None => request,
        }
    }
}

/// JSON this client cannot read is a protocol error, never a panic.
pub(super) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ChannelError> {
    // Without serde's quotation of the offending value (vendor data, maybe personal).
    serde_json::from_slice(bytes).map_err(|e| {
        ChannelError::protocol(format!(
            "Kaufland's answer has an unexpected shape (line {}, column {})",
            e.line(),
            e.column()
        ))
    })
}

/// The `pagination` of every Kaufland list.
#[derive(Debug, Deserialize)]
pub(super) struct Pagination {
    pub total: u64,
}

/// The cursor after a page read from `offset`: `None` once all `total` items were read.
pub(super) fn next_offset(
    offset: u64,
    read: usize,
    pagination: Option<&Pagination>,
) -> Option<Cursor> {
    let after = offset.saturating_add(read as u64);
    match pagination {
        Some(p) if read > 0 && after < p.total => Some(Cursor(after.to_string())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_page_has_no_cursor() {
        let p = Pagination { total: 250 };
        assert_eq!(next_offset(0, 100, Some(&p)), Some(Cursor("100".into())));
        assert_eq!(next_offset(200, 50, Some(&p)), None);
        assert_eq!(next_offset(300, 0, Some(&p)), None);
        assert_eq!(next_offset(0, 100, None), None);
    }

    #[test]
    fn paging_ends_even_when_the_total_lies() {
        // An empty page before the promised total ends the list.
        let lying = Pagination { total: 1_000_000 };
        assert_eq!(next_offset(100, 0, Some(&lying)), None);
        // Each non-empty page moves the offset on, so no cursor repeats.
        assert_eq!(
            next_offset(100, 1, Some(&lying)),
            Some(Cursor("101".into()))
        );
        assert_eq!(
            next_offset(u64::MAX - 1, 5, Some(&Pagination { total: u64::MAX })),
            None
        );
    }

    #[test]
    fn dot_ids_from_the_network_are_refused() {
        let client = Client::new(
            crate::Transport::new(std::time::Duration::from_secs(1), Default::default()),
            &crate::Hosts::Vendor,
            super::super::Credentials {
                client_key: "key".into(),
                secret_key: secrecy::SecretString::from("secret"),
                storefront: "de".into(),
            },
            &super::super::Shared::default(),
        );
        for id in [".", "..", ""] {
            assert!(
                matches!(
                    client.url(&["orders", id], &[]),
                    Err(ChannelError::Protocol { .. })
                ),
                "{id:?}"
            );
        }
        let url = client.url(&["orders", "a/b"], &[]).unwrap();
        assert_eq!(url.path(), "/v2/orders/a%2Fb");
    }

    #[test]
    fn unreadable_answers_do_not_quote_the_vendor() {
        let error = decode::<Pagination>(br#"{"total":"secret@example.com"}"#).unwrap_err();
        assert!(!error.to_string().contains("secret"), "{error}");
    }
}
