//! The Shopify cost-budget read-out the benchmark judges the connector's pacing by.

use secrecy::SecretString;
use serde_json::{json, Value};
use sm_connectors::sandbox::SandboxSecret;
use sm_sandbox::{Running, SandboxConfig};

const TENANT: &str = "usage-tenant";

async fn sandbox(fault_switch: bool) -> Running {
    let secret = SandboxSecret::new(SecretString::from("usage-test-secret-0123456789abcdef"));
    let mut config = SandboxConfig::new(secret);
    config.fault_switch = fault_switch;
    sm_sandbox::spawn(config).await.expect("the sandbox starts")
}

async fn usage(running: &Running) -> (u16, Value) {
    let url = running
        .url
        .join(&format!("_sandbox/shopify/{TENANT}/usage"))
        .unwrap();
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn usage_counts_the_points_answers_cost() {
    let running = sandbox(true).await;
    let credentials = sm_sandbox::credentials(running.sandbox.secret(), TENANT, &running.url);
    let shopify = &credentials["shopify"];
    let answer: Value = reqwest::Client::new()
        .post(shopify["graphql_url"].as_str().unwrap())
        .header(
            "X-Shopify-Access-Token",
            shopify["access_token"].as_str().unwrap(),
        )
        .json(&json!({"query": "{ products(first: 10) { nodes { id title } } }"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let actual = answer["extensions"]["cost"]["actualQueryCost"]
        .as_u64()
        .unwrap();
    assert!(actual > 0, "{answer}");

    let (status, usage) = usage(&running).await;
    assert_eq!(status, 200);
    assert_eq!(usage["spent_points"], actual, "{usage}");
    assert_eq!(usage["throttled"], 0);
    assert_eq!(usage["maximum_available"], 1000.0);
    assert!(usage["currently_available"].as_f64().unwrap() <= 1000.0);
}

#[tokio::test]
async fn usage_is_served_with_the_fault_switch_only() {
    let running = sandbox(false).await;
    assert_eq!(usage(&running).await.0, 404);
}
