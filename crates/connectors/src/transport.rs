//! Sending one request with the retries every vendor's guide asks for: 429 and 5xx and
//! timeouts retried with exponential backoff and jitter, `Retry-After` honoured.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use http::StatusCode;

use crate::ChannelError;

/// How hard to retry a transient failure.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: usize,
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// A `Retry-After` longer than this is not waited out: the call fails as rate limited
    /// and the sync engine reschedules it.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 4,
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(20),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

/// The HTTP client every connector shares, with its timeouts and retry policy.
#[derive(Clone)]
pub struct Transport {
    client: reqwest::Client,
    retry: RetryPolicy,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("retry", &self.retry)
            .finish()
    }
}

impl Transport {
    /// `timeout` bounds each attempt, connecting included.
    pub fn new(timeout: Duration, retry: RetryPolicy) -> Self {
        let client = reqwest::Client::builder()
            .user_agent(concat!("ShopMarkets/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .timeout(timeout)
            // The vendors answer directly; a redirect would only carry credentials elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("the TLS backend initialises");
        Transport { client, retry }
    }

    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    /// The same client with another retry policy: none for a request that must not be sent
    /// twice.
    pub fn with_retry(&self, retry: RetryPolicy) -> Self {
        Transport {
            client: self.client.clone(),
            retry,
        }
    }

    /// Sends the request `build` makes (called again for every attempt, so signatures and
    /// timestamps are fresh) until the answer is neither 429 nor 5xx. Timeouts and broken
    /// connections count as 5xx. A host that cannot be reached at all (DNS, refused
    /// connection) is tried once more only: a merchant waiting on a connection check should
    /// not sit through the whole backoff for a host that is not there. When the retries run
    /// out the last failure comes back as [`ChannelError::RateLimited`] or
    /// [`ChannelError::Unavailable`].
    pub async fn send(
        &self,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ChannelError> {
        let mut delays = self.backoff();
        let mut unreachable_before = false;
        loop {
            let mut unreachable = false;
            let failure = match build(&self.client).send().await {
                Ok(response) if is_transient(response.status()) => Failure::from(response),
                Ok(response) => return Ok(response),
                Err(e) => {
                    unreachable = e.is_connect();
                    Failure::Transport(describe(e))
                }
            };
            let wait = match (&failure, delays.next()) {
                (_, None) => None,
                _ if unreachable && unreachable_before => None,
                (Failure::Status { retry_after, .. }, Some(delay)) => match retry_after {
                    Some(after) if *after > self.retry.max_retry_after => None,
                    Some(after) => Some((*after).max(delay)),
                    None => Some(delay),
                },
                (Failure::Transport(_), Some(delay)) => Some(delay),
            };
            unreachable_before |= unreachable;
            match wait {
                Some(wait) => {
                    tracing::debug!(?wait, failure = %failure.describe(), "channel call retried");
                    tokio::time::sleep(wait).await;
                }
                None => return Err(failure.into_error()),
            }
        }
    }

    fn backoff(&self) -> impl Iterator<Item = Duration> {
        ExponentialBuilder::default()
            .with_min_delay(self.retry.min_delay)
            .with_max_delay(self.retry.max_delay)
            .with_max_times(self.retry.max_retries)
            .with_jitter()
            .build()
    }
}

/// The largest answer a connector reads; a bigger one is a protocol error, not a reason to
/// hold the process's memory.
pub const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// The answer's body, at most [`MAX_ANSWER_BYTES`]; read chunk by chunk so an oversized or
/// endless answer is cut off early.
pub async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, ChannelError> {
    if response
        .content_length()
        .is_some_and(|length| length > MAX_ANSWER_BYTES as u64)
    {
        return Err(ChannelError::protocol("the answer is too large"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| ChannelError::unavailable(describe(e)))?
    {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(ChannelError::protocol("the answer is too large"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Whether `segment` stays one path segment of its own once in a URL: `.` and `..` are
/// dot segments a URL resolves away, and an empty one merges with its neighbours, so an id
/// like that would address another resource.
pub(crate) fn is_path_segment(segment: &str) -> bool {
    !matches!(segment, "" | "." | "..")
}

fn is_transient(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

enum Failure {
    Status {
        status: StatusCode,
        retry_after: Option<Duration>,
    },
    Transport(String),
}

impl From<reqwest::Response> for Failure {
    fn from(response: reqwest::Response) -> Self {
        Failure::Status {
            status: response.status(),
            retry_after: retry_after(response.headers()),
        }
    }
}

impl Failure {
    fn describe(&self) -> String {
        match self {
            Failure::Status { status, .. } => format!("HTTP {status}"),
            Failure::Transport(message) => message.clone(),
        }
    }

    fn into_error(self) -> ChannelError {
        match self {
            Failure::Status {
                status: StatusCode::TOO_MANY_REQUESTS,
                retry_after,
            } => ChannelError::RateLimited { retry_after },
            other => ChannelError::unavailable(other.describe()),
        }
    }
}

/// A reqwest error without its URL (a Kaufland or Shopify URL is harmless, but the habit
/// keeps query strings out of logs).
fn describe(e: reqwest::Error) -> String {
    if e.is_timeout() {
        "the channel did not answer in time".to_owned()
    } else if e.is_connect() {
        "the channel could not be reached".to_owned()
    } else {
        format!("the connection to the channel failed: {}", e.without_url())
    }
}

/// `Retry-After` as seconds or as an HTTP date.
pub(crate) fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return seconds_to_wait(seconds);
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .to_std()
        .ok()
}

/// Longest `Retry-After` taken as said; a longer (or infinite) one is read as this, which
/// is past any `max_retry_after`, so the call fails as rate limited instead of waiting.
const LONGEST_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// A delay in seconds from the network: `None` for a negative or NaN one, an absurd one
/// capped at [`LONGEST_RETRY_AFTER`] (`Duration::from_secs_f64` would panic on it).
fn seconds_to_wait(seconds: f64) -> Option<Duration> {
    if seconds.is_nan() || seconds < 0.0 {
        return None;
    }
    Some(
        Duration::try_from_secs_f64(seconds)
            .unwrap_or(LONGEST_RETRY_AFTER)
            .min(LONGEST_RETRY_AFTER),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unreachable_host_is_tried_twice_not_through_the_whole_backoff() {
        // A port nothing listens on: the connection is refused at once.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let transport = Transport::new(
            Duration::from_secs(5),
            RetryPolicy {
                max_retries: 4,
                min_delay: Duration::from_secs(1),
                max_delay: Duration::from_secs(20),
                max_retry_after: Duration::from_secs(60),
            },
        );
        let attempts = std::sync::atomic::AtomicUsize::new(0);
        let started = std::time::Instant::now();
        let result = transport
            .send(|client| {
                attempts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                client.get(format!("http://127.0.0.1:{port}/"))
            })
            .await;
        assert!(matches!(result, Err(ChannelError::Unavailable { .. })));
        assert_eq!(attempts.load(std::sync::atomic::Ordering::SeqCst), 2);
        // The full backoff (1 + 2 + 4 + 8 s) would take 15 s or more.
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn absurd_retry_after_values_neither_panic_nor_shorten_the_wait() {
        let mut headers = http::HeaderMap::new();
        for (value, expected) in [
            ("1e300", Some(LONGEST_RETRY_AFTER)),
            ("inf", Some(LONGEST_RETRY_AFTER)),
            ("1e-300", Some(Duration::ZERO)),
            ("NaN", None),
            ("-5", None),
            ("-inf", None),
        ] {
            headers.insert(http::header::RETRY_AFTER, value.parse().unwrap());
            assert_eq!(retry_after(&headers), expected, "Retry-After: {value}");
        }
        assert!(LONGEST_RETRY_AFTER > RetryPolicy::default().max_retry_after);
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert(http::header::RETRY_AFTER, "0.5".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(500)));
        let later = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        headers.insert(http::header::RETRY_AFTER, later.parse().unwrap());
        let wait = retry_after(&headers).unwrap();
        assert!(wait > Duration::from_secs(25) && wait <= Duration::from_secs(30));
        headers.insert(http::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }
}
