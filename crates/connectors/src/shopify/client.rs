//! One GraphQL call: paced by the shop's cost bucket, sent through the shared
//! [`Transport`], its answer turned into data or a [`ChannelError`].

use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use super::pacing::ThrottleStatus;
use super::{Shared, ShopKey, API_VERSION};
use crate::error::clip;
use crate::{read_body, ChannelError, Hosts, Transport};

/// THROTTLED answers waited out before the call fails as rate limited. Pacing makes
/// them rare; more than a few means another app is draining the same bucket.
const THROTTLE_RETRIES: usize = 4;
/// The longest single wait for the cost bucket before looking again.
const MAX_NAP: Duration = Duration::from_millis(250);

/// A named GraphQL document (the name keys what Shopify said it costs).
pub(crate) struct Operation {
    pub name: &'static str,
    pub document: &'static str,
}

/// The Admin API of one shop.
pub(crate) struct Gql {
    transport: Transport,
    endpoint: String,
    shop: String,
    token: SecretString,
    /// Whose cost bucket this client draws on.
    key: ShopKey,
    shared: Shared,
}

#[derive(Deserialize)]
struct Envelope {
    data: Option<Value>,
    /// An array of GraphQL errors, or a bare string on some HTTP errors.
    errors: Option<Value>,
    extensions: Option<Extensions>,
}

#[derive(Deserialize)]
struct Extensions {
    cost: Option<Cost>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Cost {
    requested_query_cost: Option<f64>,
    throttle_status: Option<ThrottleStatus>,
}

#[derive(Deserialize)]
struct GraphqlError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    extensions: ErrorExtensions,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ErrorExtensions {
    code: Option<String>,
    required_access: Option<String>,
}

/// Points taken from the shop's bucket for a query in flight, settled when dropped:
/// also when the call fails or its caller gives up, so nothing stays taken for good.
struct Taken<'a> {
    gql: &'a Gql,
    cost: f64,
    /// Shopify's figures from the answer, once there is one.
    status: Option<ThrottleStatus>,
}

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        let (cost, status) = (self.cost, self.status);
        self.gql.shared.with_shop(&self.gql.key, |s| {
            s.bucket.learn(cost, status, Instant::now())
        });
    }
}

/// What one answer amounts to.
enum Answer {
    Data(Value),
    Throttled,
}

/// An answer with its cost figures, which count even when the answer says no.
struct Reply {
    answer: Result<Answer, ChannelError>,
    throttle: Option<ThrottleStatus>,
    requested: Option<f64>,
}

impl Gql {
    pub fn new(
        transport: Transport,
        hosts: &Hosts,
        shop: String,
        token: SecretString,
        shared: Shared,
    ) -> Self {
        Gql {
            key: ShopKey::new(&shop, &token),
            transport,
            endpoint: format!(
                "{}/admin/api/{API_VERSION}/graphql.json",
                hosts.shopify_shop(&shop)
            ),
            shop,
            token,
            shared,
        }
    }

    pub fn key(&self) -> &ShopKey {
        &self.key
    }

    pub fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Runs `operation`, whose cost by Shopify's rules is `estimate`, and reads its data.
    pub async fn run<T: DeserializeOwned>(
        &self,
        operation: &Operation,
        variables: Value,
        estimate: u32,
    ) -> Result<T, ChannelError> {
        let body = serde_json::json!({ "query": operation.document, "variables": variables });
        for _ in 0..=THROTTLE_RETRIES {
            // Shopify's own figure for this query, once seen, corrects an estimate that
            // came out low.
            let cost = self
                .shared
                .requested_cost(operation.name, estimate)
                .map_or(f64::from(estimate), |seen| seen.max(f64::from(estimate)));
            let mut taken = self.wait_for(cost).await;
            let reply = self.send(&body).await?;
            taken.status = reply.throttle;
            drop(taken);
            if let Some(requested) = reply.requested {
                self.shared
                    .learn_requested_cost(operation.name, estimate, requested);
            }
            match reply.answer? {
                Answer::Data(data) => {
                    // serde's message would quote the answer's values (customer data).
                    return serde_json::from_value(data).map_err(|_| {
                        ChannelError::protocol(format!(
                            "Shopify's answer to {} has an unexpected shape",
                            operation.name
                        ))
                    });
                }
                Answer::Throttled => {
                    tracing::info!(shop = %self.shop, operation = operation.name, "Shopify throttled a query");
                }
            }
        }
        let retry_after = self.shared.with_shop(&self.key, |s| {
            Duration::try_from_secs_f64(f64::from(estimate) / s.bucket.restore_rate()).ok()
        });
        Err(ChannelError::RateLimited { retry_after })
    }

    /// Waits until the shop's bucket holds `cost`, then takes it. Naps are short: an
    /// answer to a query in flight may bring better figures (the first answer of a shop
    /// replaces the guessed restore rate).
    async fn wait_for(&self, cost: f64) -> Taken<'_> {
        loop {
            let taken = self
                .shared
                .with_shop(&self.key, |s| s.bucket.take(cost, Instant::now()));
            match taken {
                Ok(()) => {
                    return Taken {
                        gql: self,
                        cost,
                        status: None,
                    }
                }
                Err(wait) => {
                    tracing::debug!(shop = %self.shop, ?wait, cost, "waiting for Shopify's cost bucket");
                    tokio::time::sleep(wait.min(MAX_NAP)).await;
                }
            }
        }
    }

    /// One POST; an error here is a call that failed before Shopify's bucket saw it.
    async fn send(&self, body: &Value) -> Result<Reply, ChannelError> {
        let response = self
            .transport
            .send(|client| {
                client
                    .post(&self.endpoint)
                    .header("X-Shopify-Access-Token", self.token.expose_secret())
                    .json(body)
            })
            .await?;
        let status = response.status();
        match status.as_u16() {
            200..=299 => {}
            401 => {
                return Err(ChannelError::credentials(
                    "Shopify refused the access token; reconnect the shop.",
                ))
            }
            402 => {
                return Err(ChannelError::unavailable(
                    "the shop is frozen until its Shopify bill is paid",
                ))
            }
            403 => {
                return Err(ChannelError::credentials(
                    "Shopify refused access to the shop; reinstall the app.",
                ))
            }
            404 => {
                return Err(ChannelError::credentials(
                    "Shopify does not know this shop; check the shop's domain.",
                ))
            }
            423 => return Err(ChannelError::unavailable("Shopify has locked the shop")),
            _ => {
                return Err(ChannelError::protocol(format!(
                    "Shopify answered HTTP {status}"
                )))
            }
        }
        let bytes = read_body(response).await?;
        let envelope: Envelope = serde_json::from_slice(&bytes)
            .map_err(|_| ChannelError::protocol("Shopify's answer is not valid JSON"))?;
        let cost = envelope.extensions.and_then(|e| e.cost);
        let throttle = cost.as_ref().and_then(|c| c.throttle_status);
        let requested = cost.and_then(|c| c.requested_query_cost);
        let answer = match (envelope.errors, envelope.data) {
            (Some(errors), _) => read_errors(errors),
            (None, Some(data)) => Ok(Answer::Data(data)),
            (None, None) => Err(ChannelError::protocol(
                "Shopify answered with neither data nor errors",
            )),
        };
        Ok(Reply {
            answer,
            throttle,
            requested,
        })
    }
}

/// GraphQL errors: THROTTLED is waited out, ACCESS_DENIED names the missing scope,
/// anything else is this client's fault.
fn read_errors(errors: Value) -> Result<Answer, ChannelError> {
    let errors: Vec<GraphqlError> = match errors {
        Value::String(message) => vec![GraphqlError {
            message,
            extensions: ErrorExtensions::default(),
        }],
        other => serde_json::from_value(other)
            .map_err(|_| ChannelError::protocol("Shopify's errors have an unexpected shape"))?,
    };
    if errors
        .iter()
        .any(|e| e.extensions.code.as_deref() == Some("THROTTLED"))
    {
        return Ok(Answer::Throttled);
    }
    if let Some(denied) = errors
        .iter()
        .find(|e| e.extensions.code.as_deref() == Some("ACCESS_DENIED"))
    {
        return Err(ChannelError::MissingScope {
            scope: missing_scope(denied),
        });
    }
    let message = errors
        .first()
        .map(|e| e.message.as_str())
        .unwrap_or("no message");
    Err(ChannelError::protocol(format!(
        "Shopify refused the query: {}",
        clip(message)
    )))
}

/// Shopify names the scope in backticks: "Required access: `read_orders` access scope."
fn missing_scope(error: &GraphqlError) -> String {
    let quoted = |text: &str| text.split('`').nth(1).map(str::to_owned);
    error
        .extensions
        .required_access
        .as_deref()
        .and_then(quoted)
        .or_else(|| quoted(&error.message))
        .or_else(|| error.extensions.required_access.clone())
        .map(|scope| clip(&scope))
        .unwrap_or_else(|| "an access scope Shopify did not name".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_denied_names_the_scope() {
        let errors = serde_json::json!([{
            "message": "Access denied for orders field. Required access: `read_orders` access scope.",
            "extensions": {"code": "ACCESS_DENIED", "requiredAccess": "`read_orders` access scope."}
        }]);
        match read_errors(errors) {
            Err(ChannelError::MissingScope { scope }) => assert_eq!(scope, "read_orders"),
            _ => panic!("expected MissingScope"),
        }
        let from_message = serde_json::json!([{
            "message": "Access denied. Required access: `write_inventory` access scope.",
            "extensions": {"code": "ACCESS_DENIED"}
        }]);
        match read_errors(from_message) {
            Err(ChannelError::MissingScope { scope }) => assert_eq!(scope, "write_inventory"),
            _ => panic!("expected MissingScope"),
        }
    }

    #[tokio::test]
    async fn a_query_given_up_in_flight_gives_its_points_back() {
        // A host that accepts connections and never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let silent = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let shared = Shared::default();
        let gql = Gql::new(
            Transport::new(Duration::from_secs(30), crate::RetryPolicy::default()),
            &Hosts::Sandbox(base.parse().unwrap()),
            "mein-laden.myshopify.com".to_owned(),
            SecretString::from("shpat_test"),
            shared.clone(),
        );
        const OP: Operation = Operation {
            name: "Test",
            document: "{ shop { name } }",
        };
        let call = gql.run::<Value>(&OP, serde_json::json!({}), 900);
        assert!(tokio::time::timeout(Duration::from_millis(200), call)
            .await
            .is_err());
        // All 1,000 points of the bucket are there again.
        let now = Instant::now();
        assert_eq!(
            shared.with_shop(gql.key(), |s| s.bucket.take(1_000.0, now)),
            Ok(())
        );
        silent.abort();
    }

    #[test]
    fn refusals_carry_at_most_a_clip_of_the_message() {
        let errors = serde_json::json!([{"message": "x".repeat(10_000)}]);
        match read_errors(errors) {
            Err(ChannelError::Protocol { message }) => assert!(message.len() < 400),
            _ => panic!("expected Protocol"),
        }
    }

    #[test]
    fn throttled_and_other_errors() {
        let throttled =
            serde_json::json!([{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]);
        assert!(matches!(read_errors(throttled), Ok(Answer::Throttled)));
        let other = serde_json::json!([{"message": "Field 'nope' doesn't exist on type 'Shop'"}]);
        assert!(matches!(
            read_errors(other),
            Err(ChannelError::Protocol { .. })
        ));
        assert!(matches!(
            read_errors(Value::String("[API] Invalid API key".into())),
            Err(ChannelError::Protocol { .. })
        ));
    }
}
