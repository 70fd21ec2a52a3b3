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
    /// The API URL of `path` (segments, percent-encoded) with `query`.
    pub(super) fn url(&self, path: &[&str], query: &[(&str, String)]) -> Result<Url, ChannelError> {
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
        self.limiter
            .until_key_ready(&self.credentials.client_key)
            .await;
        let response = self
            .transport
            .send(|client| self.signed(client, &method, url, body.as_deref()))
            .await?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|_| ChannelError::unavailable("the answer from Kaufland broke off"))?
            .to_vec();
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
    serde_json::from_slice(bytes)
        .map_err(|e| ChannelError::protocol(format!("Kaufland's answer does not parse: {e}")))
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
    let after = offset + read as u64;
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
}
