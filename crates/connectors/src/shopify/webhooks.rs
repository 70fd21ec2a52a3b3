//! Webhook subscriptions: the topics the cockpit listens to, made once per callback.

use serde::Deserialize;
use serde_json::json;

use super::client::{Gql, Operation};
use crate::error::clip;
use crate::ChannelError;

const SUBSCRIPTIONS: Operation = Operation {
    name: "WebhookSubscriptions",
    document: include_str!("queries/webhook_subscriptions.graphql"),
};
const SUBSCRIPTION_CREATE: Operation = Operation {
    name: "WebhookSubscriptionCreate",
    document: include_str!("queries/webhook_subscription_create.graphql"),
};

/// New orders, catalogue edits made in Shopify, and the merchant removing the app.
const TOPICS: [&str; 3] = ["ORDERS_CREATE", "PRODUCTS_UPDATE", "APP_UNINSTALLED"];

#[derive(Deserialize)]
struct Subscription {
    topic: String,
    format: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserError {
    message: String,
}

/// Lists the JSON subscriptions to `callback_url` and creates the missing topics.
pub(crate) async fn register(gql: &Gql, callback_url: &str) -> Result<(), ChannelError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Listed {
        webhook_subscriptions: Nodes,
    }
    #[derive(Deserialize)]
    struct Nodes {
        nodes: Vec<Subscription>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Created {
        webhook_subscription_create: Option<Payload>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Payload {
        user_errors: Vec<UserError>,
    }
    let listed: Listed = gql
        .run(
            &SUBSCRIPTIONS,
            json!({"callbackUrl": callback_url, "topics": TOPICS}),
            52,
        )
        .await?;
    let existing = listed.webhook_subscriptions.nodes;
    for topic in TOPICS {
        if existing
            .iter()
            .any(|s| s.topic == topic && s.format == "JSON")
        {
            continue;
        }
        let created: Created = gql
            .run(
                &SUBSCRIPTION_CREATE,
                json!({"topic": topic, "callbackUrl": callback_url}),
                10,
            )
            .await?;
        let payload = created.webhook_subscription_create.ok_or_else(|| {
            ChannelError::protocol("Shopify answered webhookSubscriptionCreate with null")
        })?;
        // A create retried after a lost answer finds its own subscription: that is success.
        if let Some(error) = payload
            .user_errors
            .iter()
            .find(|e| !e.message.contains("already been taken"))
        {
            return Err(ChannelError::Rejected {
                item: format!("the {topic} webhook"),
                reason: clip(&error.message),
            });
        }
    }
    Ok(())
}
