//! Shop channels through the real HTTP stack: sandbox connections checked against the
//! sandbox shops, the Shopify install flow end to end, forged callbacks, webhooks.

mod common;

use common::{error_code, sandbox, sandbox_args, sandbox_secret, Stack};
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sm_connectors::shopify::oauth;
use sm_testkit::SignedIn;
use sqlx::PgPool;
use uuid::Uuid;

/// The published webhook vector (Shopify's docs): body, app secret and signature.
const WEBHOOK_BODY: &str =
    r#"{"id":1234567890,"email":"customer@example.com","total_price":"123.45"}"#;
const WEBHOOK_SECRET: &str = "test-webhook-secret";
const WEBHOOK_SIGNATURE: &str = "QNyObTlKbMx2qDlPF/ZOZcBqg5OgPg+2oky3zldc0Gw=";

/// A stack with the sandbox `running` configured, plus `extra` settings.
async fn stack_with(db: PgPool, running: &sm_sandbox::Running, extra: &[&str]) -> Stack {
    let mut args = sandbox_args(running);
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Stack::spawn_with(db, &args).await
}

/// A client that shows redirects instead of following them.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn location(res: &reqwest::Response) -> String {
    res.headers()["location"].to_str().unwrap().to_owned()
}

async fn connections(stack: &Stack, token: &str) -> Vec<Value> {
    let res = stack.get(token, "/api/connections").await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

async fn count(db: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db).await.unwrap()
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn sandbox_connections_of_each_kind_are_checked_and_tested(db: PgPool) {
    let running = sandbox().await;
    let stack = stack_with(db, &running, &["--channel-timeout-secs", "2"]).await;
    let anna = stack.onboarded("anna@example.de").await;
    let bernd = stack.onboarded("bernd@example.de").await;

    let offers: Vec<Value> = stack
        .get(&anna.access_token, "/api/connections/sandbox")
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<(&str, &str, bool)> = offers
        .iter()
        .map(|o| {
            assert!(!o["description"].as_str().unwrap().is_empty());
            (
                o["platform"].as_str().unwrap(),
                o["name"].as_str().unwrap(),
                o["sandbox"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("shopify", "Sandbox Shopify", true),
            ("amazon", "Sandbox Amazon", true),
            ("kaufland", "Sandbox Kaufland", true)
        ]
    );

    for (platform, name) in [
        ("shopify", "Sandbox Shopify"),
        ("amazon", "Sandbox Amazon"),
        ("kaufland", "Sandbox Kaufland"),
    ] {
        let res = stack
            .post(
                &anna.access_token,
                "/api/connections",
                json!({ "platform": platform, "sandbox": true }),
            )
            .await;
        assert_eq!(res.status(), StatusCode::CREATED, "{platform}");
        let created: Value = res.json().await.unwrap();
        assert_eq!(created["status"], "active", "{platform}: {created}");
        assert_eq!(created["sandbox"], true);
        assert_eq!(created["shop_name"], name);
        assert!(created["last_checked_at"].is_string());
        assert!(created["last_error"].is_null() && created["last_error_code"].is_null());

        // Tested again on request; another merchant cannot, nor learn it exists.
        let path = format!("/api/connections/{}/test", created["id"].as_str().unwrap());
        let res = stack.post(&anna.access_token, &path, json!({})).await;
        assert_eq!(res.status(), StatusCode::OK);
        let tested: Value = res.json().await.unwrap();
        assert_eq!(tested["status"], "active");
        assert!(tested["last_checked_at"].as_str() >= created["last_checked_at"].as_str());
        let res = stack.post(&bernd.access_token, &path, json!({})).await;
        assert_eq!(error_code(res).await, "not_found");
    }
    let listed = connections(&stack, &anna.access_token).await;
    assert_eq!(listed.len(), 3);
    assert!(listed.iter().all(|c| c["sandbox"] == true));
    assert!(connections(&stack, &bernd.access_token).await.is_empty());

    // The account each webhook would name is kept in clear, derived from the connection id.
    let id: Uuid = listed[0]["id"].as_str().unwrap().parse().unwrap();
    let account: String = sqlx::query_scalar("SELECT account_ref FROM connections WHERE id = $1")
        .bind(id)
        .fetch_one(&stack.db)
        .await
        .unwrap();
    assert_eq!(account, sandbox_secret().shopify_shop(&id.to_string()));

    // A channel that does not answer in time: recorded as an error with its code.
    let kaufland = &listed[2]["id"].as_str().unwrap();
    let res = stack
        .http
        .post(running.url.join("_sandbox/faults").unwrap())
        .json(&json!({ "vendor": "kaufland", "fault": "server_error", "times": 100 }))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    let res = stack
        .post(
            &anna.access_token,
            &format!("/api/connections/{kaufland}/test"),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let failed: Value = res.json().await.unwrap();
    assert_eq!(failed["status"], "error");
    assert_eq!(failed["last_error_code"], "channel_unavailable");
    assert!(failed["last_error"].is_string());
    stack
        .http
        .delete(running.url.join("_sandbox/faults").unwrap())
        .send()
        .await
        .unwrap();
    let res = stack
        .post(
            &anna.access_token,
            &format!("/api/connections/{kaufland}/test"),
            json!({}),
        )
        .await;
    let recovered: Value = res.json().await.unwrap();
    assert_eq!(recovered["status"], "active");
    assert!(recovered["last_error_code"].is_null());
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn credentials_the_channel_refuses_are_an_error_with_its_code(db: PgPool) {
    let running = sandbox().await;
    let stack = stack_with(db, &running, &[]).await;
    let anna = stack.onboarded("anna@example.de").await;
    // A sandbox Shopify connection whose token belongs to another shop.
    let id = stack
        .connection_fixture(&anna, "shopify", "Falscher Token", "x", true)
        .await;
    let secret = sandbox_secret();
    let credentials = json!({
        "platform": "shopify",
        "shop_domain": secret.shopify_shop("tenant-a"),
        "access_token": secret.shopify_token(&secret.shopify_shop("tenant-b")),
    });
    let sealed = sm_crypto::Keyring::parse(common::KEY)
        .unwrap()
        .seal(credentials.to_string().as_bytes(), id.as_bytes());
    sqlx::query("UPDATE connections SET credentials_enc = $2 WHERE id = $1")
        .bind(id)
        .bind(sealed)
        .execute(&stack.db)
        .await
        .unwrap();
    let res = stack
        .post(
            &anna.access_token,
            &format!("/api/connections/{id}/test"),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    let tested: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(tested["status"], "error");
    assert_eq!(tested["last_error_code"], "channel_credentials_invalid");
    assert!(!text.contains("shpat_"), "no token in the answer: {text}");
    // Refused credentials prove no account: whatever the row named is forgotten.
    let account: Option<String> =
        sqlx::query_scalar("SELECT account_ref FROM connections WHERE id = $1")
            .bind(id)
            .fetch_one(&stack.db)
            .await
            .unwrap();
    assert_eq!(account, None);
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn without_a_sandbox_or_an_app_the_answers_say_so(db: PgPool) {
    let stack = Stack::spawn(db).await;
    let anna = stack.onboarded("anna@example.de").await;
    let offers: Vec<Value> = stack
        .get(&anna.access_token, "/api/connections/sandbox")
        .await
        .json()
        .await
        .unwrap();
    assert!(offers.is_empty());
    let res = stack
        .post(
            &anna.access_token,
            "/api/connections",
            json!({ "platform": "amazon", "sandbox": true }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(res).await, "sandbox_unavailable");
    let res = stack
        .post(
            &anna.access_token,
            "/api/shopify/install",
            json!({ "sandbox": true }),
        )
        .await;
    assert_eq!(error_code(res).await, "sandbox_unavailable");
    let res = stack
        .post(
            &anna.access_token,
            "/api/shopify/install",
            json!({ "shop_domain": "mein-laden.myshopify.com" }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(res).await, "shopify_app_unavailable");
    assert_eq!(
        count(&stack.db, "SELECT count(*) FROM connections").await,
        0
    );
    // Without SHOPIFY_API_SECRET no real shop's webhook is genuine.
    let res = deliver(
        &stack,
        "mein-laden.myshopify.com",
        "orders/create",
        "w-1",
        WEBHOOK_BODY,
        WEBHOOK_SIGNATURE,
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(res).await, "invalid_signature");

    // The AVV comes first, sandbox or not.
    let bernd = stack.merchant("bernd@example.de").await;
    for (path, body) in [
        (
            "/api/connections",
            json!({ "platform": "amazon", "sandbox": true }),
        ),
        ("/api/shopify/install", json!({ "sandbox": true })),
    ] {
        let res = stack.post(&bernd.access_token, path, body).await;
        assert_eq!(error_code(res).await, "avv_signature_required", "{path}");
    }
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn sandbox_connections_take_no_credentials_and_real_ones_need_them(db: PgPool) {
    let running = sandbox().await;
    let stack = stack_with(db, &running, &[]).await;
    let anna = stack.onboarded("anna@example.de").await;
    let res = stack
        .post(&anna.access_token, "/api/connections", json!({
            "platform": "shopify", "sandbox": true,
            "credentials": { "shop_domain": "evil.myshopify.com", "access_token": "shpat_0123456789abcdef0123456789abcdef" }
        }))
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["fields"][0]["field"], "credentials");
    let res = stack
        .post(
            &anna.access_token,
            "/api/connections",
            json!({ "platform": "shopify" }),
        )
        .await;
    let body: Value = res.json().await.unwrap();
    let fields: Vec<&str> = body["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "shop_name",
            "credentials.shop_domain",
            "credentials.access_token"
        ]
    );
    for domain in ["evil.com", "shop-.myshopify.com", "a.b.myshopify.com"] {
        let res = stack
            .post(&anna.access_token, "/api/connections", json!({
                "platform": "shopify", "shop_name": "x",
                "credentials": { "shop_domain": domain, "access_token": "shpat_0123456789abcdef0123456789abcdef" }
            }))
            .await;
        let body: Value = res.json().await.unwrap();
        assert_eq!(
            body["error"]["fields"][0]["field"], "credentials.shop_domain",
            "{domain}"
        );
    }
    assert_eq!(
        count(&stack.db, "SELECT count(*) FROM connections").await,
        0
    );
}

/// An install approved at the sandbox: what the browser brings back to the callback.
struct Approval {
    shop: String,
    /// The callback's query, as the sandbox signed it.
    query: String,
    /// `name=value` of the cookie the install set in the browser.
    cookie: String,
    /// The whole Set-Cookie line.
    set_cookie: String,
}

/// Starts a sandbox install and follows the sandbox's approval.
async fn approve(stack: &Stack, token: &str, body: Value) -> Approval {
    let res = stack.post(token, "/api/shopify/install", body).await;
    assert_eq!(res.status(), StatusCode::OK);
    let set_cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let answer: Value = res.json().await.unwrap();
    let authorize = answer["authorize_url"].as_str().unwrap();
    let res = no_redirects().get(authorize).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND, "{authorize}");
    let back = location(&res);
    let query = back
        .strip_prefix("https://api.example.test/api/shopify/callback?")
        .unwrap_or_else(|| panic!("the sandbox sends the browser back to the api: {back}"))
        .to_owned();
    Approval {
        shop: answer["shop_domain"].as_str().unwrap().to_owned(),
        query,
        cookie,
        set_cookie,
    }
}

/// The browser comes back to the callback with `query`, carrying `cookie` (`name=value`).
async fn callback(stack: &Stack, query: &str, cookie: &str) -> reqwest::Response {
    let mut request = no_redirects().get(stack.url(&format!("/api/shopify/callback?{query}")));
    if !cookie.is_empty() {
        request = request.header("cookie", cookie);
    }
    request.send().await.unwrap()
}

const SHOPIFY_SETTINGS: [&str; 4] = [
    "--public-api-url",
    "https://api.example.test",
    "--dashboard-url",
    "https://start.example.test/",
];

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn the_shopify_install_runs_through_the_sandbox(db: PgPool) {
    let running = sandbox().await;
    let stack = stack_with(db, &running, &SHOPIFY_SETTINGS).await;
    let anna = stack.onboarded("anna@example.de").await;

    let res = stack
        .post(
            &anna.access_token,
            "/api/shopify/install",
            json!({ "sandbox": true }),
        )
        .await;
    let answer: Value = res.json().await.unwrap();
    let authorize = answer["authorize_url"].as_str().unwrap();
    let shop = answer["shop_domain"].as_str().unwrap();
    assert!(
        authorize.starts_with(&format!(
            "{}shopify/{shop}/admin/oauth/authorize?",
            running.url
        )),
        "{authorize}"
    );
    let (key, _) = sandbox_secret().shopify_app();
    assert!(authorize.contains(&format!("client_id={key}")));
    assert!(authorize
        .contains("redirect_uri=https%3A%2F%2Fapi.example.test%2Fapi%2Fshopify%2Fcallback"));

    let approval = approve(&stack, &anna.access_token, json!({ "sandbox": true })).await;
    let shop = approval.shop.clone();
    // The install is tied to this browser, for the callback only.
    for attribute in [
        "HttpOnly",
        "Path=/api/shopify/callback",
        "SameSite=Lax",
        "Secure",
        "Max-Age=600",
    ] {
        assert!(
            approval.set_cookie.contains(attribute),
            "{}",
            approval.set_cookie
        );
    }
    let res = callback(&stack, &approval.query, &approval.cookie).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let cleared = res.headers()["set-cookie"].to_str().unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let listed = connections(&stack, &anna.access_token).await;
    assert_eq!(listed.len(), 1);
    let id = listed[0]["id"].as_str().unwrap();
    assert_eq!(
        location(&res),
        format!("https://start.example.test/connections?connected={id}")
    );
    assert_eq!(listed[0]["platform"], "shopify");
    assert_eq!(listed[0]["status"], "active");
    assert_eq!(listed[0]["sandbox"], true);
    assert!(listed[0]["credentials_hint"]
        .as_str()
        .unwrap()
        .starts_with(&shop));

    // The state was used up.
    let res = callback(&stack, &approval.query, &approval.cookie).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(res).await, "invalid_state");

    // Made through the app: the shop's webhooks reach it.
    let via_app: bool = sqlx::query_scalar("SELECT via_app FROM connections WHERE id = $1")
        .bind(id.parse::<Uuid>().unwrap())
        .fetch_one(&stack.db)
        .await
        .unwrap();
    assert!(via_app);

    // Installing again gives a new sandbox shop and a new connection.
    let again = approve(&stack, &anna.access_token, json!({ "sandbox": true })).await;
    assert_ne!(again.shop, shop);
    let res = callback(&stack, &again.query, &again.cookie).await;
    assert!(location(&res).contains("?connected="));
    assert_eq!(connections(&stack, &anna.access_token).await.len(), 2);
}

/// `query` with `name` set to `value`, as it is (the signature no longer fits).
fn set(query: &str, name: &str, value: &str) -> String {
    let params = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .map(|(k, v)| {
            if k == name {
                (k, value.to_owned())
            } else {
                (k, v)
            }
        });
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
}

/// `query` signed again with `api_secret`.
fn signed(query: &str, api_secret: SecretString) -> String {
    let mut params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .filter(|(k, _)| k != "hmac")
        .collect();
    let app = oauth::App {
        api_key: "any".to_owned(),
        api_secret,
    };
    params.push(("hmac".to_owned(), oauth::callback_hmac(&app, &params)));
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
}

/// `query` with `name` set to `value`, signed as the sandbox signs.
fn resigned(query: &str, name: &str, value: &str) -> String {
    signed(&set(query, name, value), sandbox_secret().shopify_app().1)
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn forged_callbacks_change_nothing_and_do_not_use_up_the_state(db: PgPool) {
    let running = sandbox().await;
    let stack = stack_with(db, &running, &SHOPIFY_SETTINGS).await;
    let anna = stack.onboarded("anna@example.de").await;
    let approval = approve(&stack, &anna.access_token, json!({ "sandbox": true })).await;
    let (query, cookie) = (approval.query.clone(), approval.cookie.clone());
    // Bernd's own install, whose cookie is in Bernd's browser only.
    let bernd = stack.onboarded("bernd@example.de").await;
    let bernds = approve(&stack, &bernd.access_token, json!({ "sandbox": true })).await;

    let other_shop = sandbox_secret().shopify_shop("someone-else");
    let stale = (chrono::Utc::now().timestamp() - 3600).to_string();
    for (forged, code) in [
        (set(&query, "hmac", &"0".repeat(64)), "invalid_hmac"),
        (set(&query, "code", "another-code"), "invalid_hmac"),
        (
            signed(&query, SecretString::from("another app")),
            "invalid_hmac",
        ),
        (resigned(&query, "timestamp", &stale), "invalid_hmac"),
        (resigned(&query, "shop", "evil.com"), "invalid_shop_domain"),
        (resigned(&query, "shop", &other_shop), "invalid_shop_domain"),
        (resigned(&query, "state", "not-the-state"), "invalid_state"),
        (format!("{query}&shop=evil.com"), "invalid_query"),
    ] {
        let res = callback(&stack, &forged, &cookie).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{forged}");
        assert_eq!(error_code(res).await, code, "{forged}");
    }
    // Bernd sends Anna (signed in to her shop) his approved install: her browser lacks
    // his install's cookie, so her shop does not land in his account.
    for cookie in ["", cookie.as_str()] {
        let res = callback(&stack, &bernds.query, cookie).await;
        assert_eq!(error_code(res).await, "invalid_state");
    }
    let res = callback(&stack, &query, &bernds.cookie).await;
    assert_eq!(error_code(res).await, "invalid_state");
    assert_eq!(
        count(&stack.db, "SELECT count(*) FROM connections").await,
        0
    );

    // The merchants' own callbacks still work after all that.
    let res = callback(&stack, &bernds.query, &bernds.cookie).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(connections(&stack, &bernd.access_token).await.len(), 1);
    let res = callback(&stack, &query, &cookie).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).contains("?connected="));
    assert_eq!(connections(&stack, &anna.access_token).await.len(), 1);

    // An expired state is refused.
    let Approval { query, cookie, .. } =
        approve(&stack, &anna.access_token, json!({ "sandbox": true })).await;
    sqlx::query("UPDATE shopify_installs SET expires_at = now() - interval '1 second'")
        .execute(&stack.db)
        .await
        .unwrap();
    let res = callback(&stack, &query, &cookie).await;
    assert_eq!(error_code(res).await, "invalid_state");
    assert_eq!(
        count(&stack.db, "SELECT count(*) FROM connections").await,
        2
    );
    // Only the state's hash is kept.
    let kept: Vec<String> = sqlx::query_scalar("SELECT state_sha256 FROM shopify_installs")
        .fetch_all(&stack.db)
        .await
        .unwrap();
    let state: String = url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    assert_eq!(kept, [hex::encode(Sha256::digest(state.as_bytes()))]);
}

/// A Shopify connection of `who` made through the app install into `shop` (written straight
/// into the database: a real shop's install cannot run in tests).
async fn installed(stack: &Stack, who: &SignedIn, name: &str, shop: &str, sandbox: bool) -> Uuid {
    let id = stack
        .connection_fixture(who, "shopify", name, shop, sandbox)
        .await;
    sqlx::query("UPDATE connections SET via_app = true, status = 'active' WHERE id = $1")
        .bind(id)
        .execute(&stack.db)
        .await
        .unwrap();
    id
}

async fn deliver(
    stack: &Stack,
    shop: &str,
    topic: &str,
    webhook_id: &str,
    body: &str,
    signature: &str,
) -> reqwest::Response {
    stack
        .http
        .post(stack.url("/api/webhooks/shopify"))
        .header("content-type", "application/json")
        .header("x-shopify-hmac-sha256", signature)
        .header("x-shopify-shop-domain", shop)
        .header("x-shopify-topic", topic)
        .header("x-shopify-webhook-id", webhook_id)
        .header("x-shopify-api-version", "2025-01")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn webhooks_are_checked_and_recorded_once(db: PgPool) {
    let running = sandbox().await;
    let stack = stack_with(
        db,
        &running,
        &[
            "--shopify-api-key",
            "test-api-key",
            "--shopify-api-secret",
            WEBHOOK_SECRET,
        ],
    )
    .await;
    let anna = stack.onboarded("anna@example.de").await;
    let shop = "mein-laden.myshopify.com";
    let id = installed(&stack, &anna, "Mein Laden", shop, false).await;
    let events = || count(&stack.db, "SELECT count(*) FROM channel_events");

    let res = deliver(
        &stack,
        shop,
        "orders/create",
        "w-1",
        WEBHOOK_BODY,
        WEBHOOK_SIGNATURE,
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let (topic, payload, connection): (String, Value, Uuid) =
        sqlx::query_as("SELECT topic, payload, connection_id FROM channel_events")
            .fetch_one(&stack.db)
            .await
            .unwrap();
    assert_eq!((topic.as_str(), connection), ("orders/create", id));
    assert_eq!(payload["total_price"], "123.45");

    // Shopify delivers again: acknowledged, nothing new.
    let res = deliver(
        &stack,
        shop,
        "orders/create",
        "w-1",
        WEBHOOK_BODY,
        WEBHOOK_SIGNATURE,
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(events().await, 1);

    // Forged, unsigned or signed by the sandbox for a real shop: refused or not recorded.
    let forged = WEBHOOK_BODY.replace("123.45", "0.01");
    let res = deliver(
        &stack,
        shop,
        "orders/create",
        "w-2",
        &forged,
        WEBHOOK_SIGNATURE,
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(res).await, "invalid_signature");
    let res = stack
        .http
        .post(stack.url("/api/webhooks/shopify"))
        .header("x-shopify-shop-domain", shop)
        .body(WEBHOOK_BODY)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res).await, "invalid_signature");
    let sandbox_signed =
        oauth::webhook_hmac(&sandbox_secret().shopify_app().1, WEBHOOK_BODY.as_bytes());
    let res = deliver(
        &stack,
        shop,
        "orders/create",
        "w-3",
        WEBHOOK_BODY,
        &sandbox_signed,
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    // The sandbox signs for its own shops, which sandbox connections name.
    let sandbox_shop = sandbox_secret().shopify_shop("tenant");
    let sandbox_id = installed(&stack, &anna, "Sandbox Shopify", &sandbox_shop, true).await;
    let res = deliver(
        &stack,
        &sandbox_shop,
        "products/update",
        "w-3",
        WEBHOOK_BODY,
        &sandbox_signed,
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let recorded: Vec<Uuid> =
        sqlx::query_scalar("SELECT connection_id FROM channel_events ORDER BY received_at")
            .fetch_all(&stack.db)
            .await
            .unwrap();
    assert_eq!(recorded, [id, sandbox_id]);
    sqlx::query("DELETE FROM connections WHERE id = $1")
        .bind(sandbox_id)
        .execute(&stack.db)
        .await
        .unwrap();
    // A shop nobody connected: acknowledged.
    let res = deliver(
        &stack,
        "fremd.myshopify.com",
        "orders/create",
        "w-4",
        WEBHOOK_BODY,
        WEBHOOK_SIGNATURE,
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(events().await, 1);

    // Too large.
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(1024 * 1024));
    let signature = oauth::webhook_hmac(&SecretString::from(WEBHOOK_SECRET), big.as_bytes());
    let res = deliver(&stack, shop, "orders/create", "w-5", &big, &signature).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(events().await, 1);

    // The merchant removed the app in Shopify: the connection says so.
    let body = json!({ "id": 1, "domain": shop }).to_string();
    let signature = oauth::webhook_hmac(&SecretString::from(WEBHOOK_SECRET), body.as_bytes());
    let res = deliver(&stack, shop, "app/uninstalled", "w-6", &body, &signature).await;
    assert_eq!(res.status(), StatusCode::OK);
    let view: Value = stack
        .get(&anna.access_token, &format!("/api/connections/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["status"], "disconnected");
    assert_eq!(view["last_error_code"], "app_uninstalled");
    assert_eq!(events().await, 2);
    // Deleting the connection deletes its events.
    let res = stack
        .send(
            Method::DELETE,
            &anna.access_token,
            &format!("/api/connections/{id}"),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(events().await, 0);
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn shopify_reaches_its_routes_without_a_bearer_and_merchants_need_one(db: PgPool) {
    let stack = Stack::spawn(db).await;
    let doc = stack.openapi().await;
    for (method, path, anonymous) in [
        ("get", "/api/shopify/callback", true),
        ("post", "/api/webhooks/shopify", true),
        ("post", "/api/shopify/install", false),
        ("get", "/api/connections/sandbox", false),
        ("post", "/api/connections/{id}/test", false),
    ] {
        assert_eq!(
            sm_testkit::openapi::is_anonymous(&doc, method, path),
            anonymous,
            "{method} {path}"
        );
    }
    let callback = &doc["paths"]["/api/shopify/callback"]["get"]["responses"];
    assert!(callback["303"].is_object() && callback["400"].is_object());
    let res = stack
        .http
        .post(stack.url("/api/shopify/install"))
        .json(&json!({ "sandbox": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

/// The stack with the sandbox and the ShopMarkets app (signing with `WEBHOOK_SECRET`).
async fn stack_with_app(db: PgPool, running: &sm_sandbox::Running) -> Stack {
    let mut settings = vec![
        "--shopify-api-key",
        "test-api-key",
        "--shopify-api-secret",
        WEBHOOK_SECRET,
        "--channel-timeout-secs",
        "2",
    ];
    settings.extend(SHOPIFY_SETTINGS);
    stack_with(db, running, &settings).await
}

fn signed_by(secret: &SecretString, body: &str) -> String {
    oauth::webhook_hmac(secret, body.as_bytes())
}

async fn events_of(stack: &Stack, connection: Uuid) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT topic FROM channel_events WHERE connection_id = $1 ORDER BY received_at",
    )
    .bind(connection)
    .fetch_all(&stack.db)
    .await
    .unwrap()
}

async fn error_code_of(stack: &Stack, connection: Uuid) -> Option<String> {
    sqlx::query_scalar("SELECT last_error_code FROM connections WHERE id = $1")
        .bind(connection)
        .fetch_one(&stack.db)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn webhooks_reach_only_connections_whose_shop_was_confirmed(db: PgPool) {
    let running = sandbox().await;
    let stack = stack_with_app(db, &running).await;
    let anna = stack.onboarded("anna@example.de").await;
    let bernd = stack.onboarded("bernd@example.de").await;

    // Anna installs the (sandbox) app into her shop.
    let approval = approve(&stack, &anna.access_token, json!({ "sandbox": true })).await;
    let res = callback(&stack, &approval.query, &approval.cookie).await;
    assert!(location(&res).contains("?connected="), "{}", location(&res));
    let annas: Uuid = connections(&stack, &anna.access_token).await[0]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // Bernd has a connection naming her shop whose check never confirmed it (say, a token
    // he typed in that the shop refused): it names no account.
    let bernds = stack
        .connection_fixture(&bernd, "shopify", "Annas Laden", &approval.shop, true)
        .await;
    sqlx::query("UPDATE connections SET account_ref = NULL, status = 'error' WHERE id = $1")
        .bind(bernds)
        .execute(&stack.db)
        .await
        .unwrap();

    let sandbox_app = sandbox_secret().shopify_app().1;
    let order = r#"{"id":820982911946154508,"email":"kundin@example.de","total_price":"49.90"}"#;
    let res = deliver(
        &stack,
        &approval.shop,
        "orders/create",
        "w-1",
        order,
        &signed_by(&sandbox_app, order),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(events_of(&stack, annas).await, ["orders/create"]);
    assert!(events_of(&stack, bernds).await.is_empty());

    // The app is uninstalled from Anna's shop: only her connection says so.
    let shop_body = json!({ "id": 1, "myshopify_domain": approval.shop }).to_string();
    let res = deliver(
        &stack,
        &approval.shop,
        "app/uninstalled",
        "w-2",
        &shop_body,
        &signed_by(&sandbox_app, &shop_body),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        error_code_of(&stack, annas).await.as_deref(),
        Some("app_uninstalled")
    );
    assert_eq!(error_code_of(&stack, bernds).await, None);
    assert!(events_of(&stack, bernds).await.is_empty());

    // A real shop: Bernd connects the victim's domain with a token the shop never issued.
    // The check fails, the connection names no shop, the shop's orders never reach him.
    let victim = "opfer-laden.myshopify.com";
    let res = stack
        .post(&bernd.access_token, "/api/connections", json!({
            "platform": "shopify", "shop_name": "Fremder Laden",
            "credentials": { "shop_domain": victim, "access_token": "shpat_0123456789abcdef0123456789abcdef" }
        }))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["status"], "error");
    let forged: Uuid = created["id"].as_str().unwrap().parse().unwrap();
    let account: Option<String> =
        sqlx::query_scalar("SELECT account_ref FROM connections WHERE id = $1")
            .bind(forged)
            .fetch_one(&stack.db)
            .await
            .unwrap();
    assert_eq!(account, None);
    let res = deliver(
        &stack,
        victim,
        "orders/create",
        "w-3",
        WEBHOOK_BODY,
        WEBHOOK_SIGNATURE,
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(events_of(&stack, forged).await.is_empty());
    let body = json!({ "id": 2, "myshopify_domain": victim }).to_string();
    let signature = signed_by(&SecretString::from(WEBHOOK_SECRET), &body);
    let res = deliver(&stack, victim, "app/uninstalled", "w-4", &body, &signature).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_ne!(
        error_code_of(&stack, forged).await.as_deref(),
        Some("app_uninstalled")
    );
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn replayed_webhook_bodies_and_foreign_uninstalls_change_nothing(db: PgPool) {
    let running = sandbox().await;
    let stack = stack_with_app(db, &running).await;
    let anna = stack.onboarded("anna@example.de").await;
    let shop = "mein-laden.myshopify.com";
    let id = installed(&stack, &anna, "Mein Laden", shop, false).await;
    let secret = SecretString::from(WEBHOOK_SECRET);

    let res = deliver(
        &stack,
        shop,
        "orders/create",
        "w-1",
        WEBHOOK_BODY,
        WEBHOOK_SIGNATURE,
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    // The same signed body under a new webhook id: a replay, acknowledged, not recorded.
    let res = deliver(
        &stack,
        shop,
        "orders/create",
        "w-2",
        WEBHOOK_BODY,
        WEBHOOK_SIGNATURE,
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(events_of(&stack, id).await, ["orders/create"]);
    // The same body under another topic is another event.
    let res = deliver(
        &stack,
        shop,
        "orders/updated",
        "w-3",
        WEBHOOK_BODY,
        WEBHOOK_SIGNATURE,
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        events_of(&stack, id).await,
        ["orders/create", "orders/updated"]
    );

    // A signed uninstall body of another shop (or of none), sent as this shop's: refused.
    for body in [
        json!({ "id": 7, "myshopify_domain": "anderer-laden.myshopify.com", "domain": shop }),
        json!({ "id": 7, "domain": "anderer-laden.myshopify.com" }),
        json!({ "id": 7 }),
        serde_json::from_str(WEBHOOK_BODY).unwrap(),
    ] {
        let body = body.to_string();
        let res = deliver(
            &stack,
            shop,
            "app/uninstalled",
            "w-4",
            &body,
            &signed_by(&secret, &body),
        )
        .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(error_code(res).await, "shop_mismatch", "{body}");
    }
    assert_eq!(error_code_of(&stack, id).await, None);
    assert_eq!(events_of(&stack, id).await.len(), 2);

    // Its own, naming the shop by myshopify_domain (domain may be the shop's own domain).
    let body = json!({ "id": 7, "myshopify_domain": "Mein-Laden.myshopify.com", "domain": "mein-laden.de" })
        .to_string();
    let res = deliver(
        &stack,
        shop,
        "app/uninstalled",
        "w-5",
        &body,
        &signed_by(&secret, &body),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        error_code_of(&stack, id).await.as_deref(),
        Some("app_uninstalled")
    );
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn callback_queries_beyond_the_limits_are_refused_at_once(db: PgPool) {
    let running = sandbox().await;
    let stack = stack_with(db, &running, &SHOPIFY_SETTINGS).await;
    let anna = stack.onboarded("anna@example.de").await;
    let approval = approve(&stack, &anna.access_token, json!({ "sandbox": true })).await;

    // 10,000 distinct parameters, as an anonymous caller may send (short names: the
    // server takes URIs up to 64 KiB).
    let flood: String = (0..10_000).map(|i| format!("{i:x}&")).collect();
    let started = std::time::Instant::now();
    let res = callback(&stack, &format!("{flood}{}", approval.query), "").await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(res).await, "invalid_query");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );

    // The genuine callback with 11 more parameters (17, under 4 KiB), or with one long one
    // (7, over 4 KiB): refused as a query, before the signature is even looked at.
    let extra: String = (0..11).map(|i| format!("&x{i}=1")).collect();
    let padded = format!("{}&pad={}", approval.query, "a".repeat(4096));
    for query in [format!("{}{extra}", approval.query), padded] {
        let res = callback(&stack, &query, &approval.cookie).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert_eq!(error_code(res).await, "invalid_query");
    }
    // Nothing was used up: the genuine callback still connects the shop.
    let res = callback(&stack, &approval.query, &approval.cookie).await;
    assert!(location(&res).contains("?connected="), "{}", location(&res));
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn sandbox_installs_get_a_new_shop_and_refuse_a_named_one(db: PgPool) {
    let running = sandbox().await;
    let stack = stack_with(db, &running, &SHOPIFY_SETTINGS).await;
    let anna = stack.onboarded("anna@example.de").await;
    let approval = approve(&stack, &anna.access_token, json!({ "sandbox": true })).await;
    let res = callback(&stack, &approval.query, &approval.cookie).await;
    assert!(location(&res).contains("?connected="));

    // Bernd knows Anna's sandbox shop: he cannot install into it and take its token.
    let bernd = stack.onboarded("bernd@example.de").await;
    let res = stack
        .post(
            &bernd.access_token,
            "/api/shopify/install",
            json!({ "sandbox": true, "shop_domain": approval.shop }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["fields"][0]["field"], "shop_domain");
    assert_eq!(body["error"]["fields"][0]["code"], "not_allowed");
    assert_eq!(
        count(&stack.db, "SELECT count(*) FROM shopify_installs").await,
        0
    );
    assert!(connections(&stack, &bernd.access_token).await.is_empty());
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn the_sandbox_install_opens_the_sandbox_where_browsers_reach_it(db: PgPool) {
    let running = sandbox().await;
    let mut settings = SHOPIFY_SETTINGS.to_vec();
    settings.extend(["--sandbox-public-url", "http://localhost:39999/sandbox/"]);
    let stack = stack_with(db, &running, &settings).await;
    let anna = stack.onboarded("anna@example.de").await;
    let res = stack
        .post(
            &anna.access_token,
            "/api/shopify/install",
            json!({ "sandbox": true }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let answer: Value = res.json().await.unwrap();
    let shop = answer["shop_domain"].as_str().unwrap();
    let authorize = answer["authorize_url"].as_str().unwrap();
    let public = format!("http://localhost:39999/sandbox/shopify/{shop}/admin/oauth/authorize?");
    assert!(authorize.starts_with(&public), "{authorize}");

    // The browser reaches that sandbox; the api still calls it at SANDBOX_URL.
    let reachable = authorize.replace("http://localhost:39999/sandbox/", running.url.as_str());
    let res = no_redirects().get(&reachable).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let query = location(&res)
        .strip_prefix("https://api.example.test/api/shopify/callback?")
        .unwrap()
        .to_owned();
    let res = callback(&stack, &query, &cookie).await;
    assert!(location(&res).contains("?connected="), "{}", location(&res));
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn amazon_marketplaces_must_lie_in_the_region(db: PgPool) {
    let stack = Stack::spawn(db).await;
    let anna = stack.onboarded("anna@example.de").await;
    let res = stack
        .post(&anna.access_token, "/api/connections", json!({
            "platform": "amazon", "shop_name": "Amazon US",
            "credentials": {
                "seller_id": "A2EXAMPLE1234", "refresh_token": "Atzr|IwEBIexampleexampleexample",
                "client_id": "amzn1.application-oa2-client.abc123", "client_secret": "0123456789abcdef0123",
                "region": "na", "marketplace_id": "A1PA6795UKMFR9"
            }
        }))
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = res.json().await.unwrap();
    let field = &body["error"]["fields"][0];
    assert_eq!(field["field"], "credentials.region");
    assert_eq!(field["code"], "region_mismatch");
    assert!(field["message"].as_str().unwrap().contains("eu"), "{field}");
    assert_eq!(
        count(&stack.db, "SELECT count(*) FROM connections").await,
        0
    );
}

/// The events `GET /api/connections/{id}/events` lists for `who`, as (topic, event_id).
async fn listed_events(stack: &Stack, who: &SignedIn, id: Uuid, query: &str) -> Vec<Value> {
    let res = stack
        .get(
            &who.access_token,
            &format!("/api/connections/{id}/events{query}"),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

fn topics(events: &[Value]) -> Vec<(&str, &str)> {
    events
        .iter()
        .map(|e| {
            (
                e["topic"].as_str().unwrap(),
                e["event_id"].as_str().unwrap(),
            )
        })
        .collect()
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn the_secret_alone_receives_webhooks_and_merchants_see_what_arrived(db: PgPool) {
    let running = sandbox().await;
    // The app's secret without its key: webhooks yes, the install flow no.
    let stack = stack_with(db, &running, &["--shopify-api-secret", WEBHOOK_SECRET]).await;
    let anna = stack.onboarded("anna@example.de").await;
    let bernd = stack.onboarded("bernd@example.de").await;
    let res = stack
        .post(
            &anna.access_token,
            "/api/shopify/install",
            json!({ "shop_domain": "mein-laden.myshopify.com" }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(res).await, "shopify_app_unavailable");

    // A sandbox Shopify connection by token (no app install), confirmed by its check.
    let res = stack
        .post(
            &anna.access_token,
            "/api/connections",
            json!({ "platform": "shopify", "sandbox": true }),
        )
        .await;
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["status"], "active", "{created}");
    let id: Uuid = created["id"].as_str().unwrap().parse().unwrap();
    let shop = sandbox_secret().shopify_shop(&id.to_string());
    let sandbox_app = sandbox_secret().shopify_app().1;
    let order = r#"{"id":820982911946154508,"email":"kundin@example.de","total_price":"49.90"}"#;

    // Forged: refused, nothing listed.
    let forged = order.replace("49.90", "0.01");
    let res = deliver(
        &stack,
        &shop,
        "orders/create",
        "w-1",
        &forged,
        &signed_by(&sandbox_app, order),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(listed_events(&stack, &anna, id, "").await.is_empty());

    // Delivered twice: listed once, with what Shopify sent.
    for _ in 0..2 {
        let res = deliver(
            &stack,
            &shop,
            "orders/create",
            "w-1",
            order,
            &signed_by(&sandbox_app, order),
        )
        .await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    let events = listed_events(&stack, &anna, id, "").await;
    assert_eq!(topics(&events), [("orders/create", "w-1")]);
    assert_eq!(events[0]["payload"]["total_price"], "49.90");
    assert!(events[0]["id"].is_string() && events[0]["received_at"].is_string());

    // The app's uninstall is recorded, but a token connection is not the app's: it works on.
    let body = json!({ "id": 1, "myshopify_domain": shop }).to_string();
    let res = deliver(
        &stack,
        &shop,
        "app/uninstalled",
        "w-2",
        &body,
        &signed_by(&sandbox_app, &body),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let events = listed_events(&stack, &anna, id, "").await;
    assert_eq!(
        topics(&events),
        [("app/uninstalled", "w-2"), ("orders/create", "w-1")]
    );
    assert_eq!(
        topics(&listed_events(&stack, &anna, id, "?limit=1").await),
        [("app/uninstalled", "w-2")]
    );
    assert_eq!(listed_events(&stack, &anna, id, "?limit=0").await.len(), 1);
    assert_eq!(
        listed_events(&stack, &anna, id, "?limit=500").await.len(),
        2
    );
    let view: Value = stack
        .get(&anna.access_token, &format!("/api/connections/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["status"], "active");
    assert!(view["last_error_code"].is_null());

    // Another merchant cannot see them, nor learn the connection exists.
    let res = stack
        .get(
            &bernd.access_token,
            &format!("/api/connections/{id}/events"),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = stack
        .get(
            &anna.access_token,
            &format!("/api/connections/{id}/events?limit=viele"),
        )
        .await;
    assert_eq!(error_code(res).await, "invalid_query");

    // A real shop's webhook, signed with SHOPIFY_API_SECRET, reaches its confirmed token
    // connection; one whose check failed (no account) gets nothing.
    let real = "mein-laden.myshopify.com";
    let confirmed = stack
        .connection_fixture(&anna, "shopify", "Mein Laden", real, false)
        .await;
    let unverified = stack
        .connection_fixture(&bernd, "shopify", "Mein Laden", real, false)
        .await;
    sqlx::query("UPDATE connections SET account_ref = NULL WHERE id = $1")
        .bind(unverified)
        .execute(&stack.db)
        .await
        .unwrap();
    let res = deliver(
        &stack,
        real,
        "orders/create",
        "w-3",
        WEBHOOK_BODY,
        WEBHOOK_SIGNATURE,
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        topics(&listed_events(&stack, &anna, confirmed, "").await),
        [("orders/create", "w-3")]
    );
    assert!(listed_events(&stack, &bernd, unverified, "")
        .await
        .is_empty());
    // The sandbox's signature does not pass for a real shop.
    let res = deliver(
        &stack,
        real,
        "orders/create",
        "w-4",
        order,
        &signed_by(&sandbox_app, order),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(listed_events(&stack, &anna, confirmed, "").await.len(), 1);
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn the_events_route_is_documented(db: PgPool) {
    let stack = Stack::spawn(db).await;
    let doc = stack.openapi().await;
    let op = &doc["paths"]["/api/connections/{id}/events"]["get"];
    for status in ["200", "401", "404"] {
        assert!(op["responses"][status].is_object(), "{status}: {op}");
    }
    let limit = op["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap();
    // Out-of-range values are clamped, as on the other lists, so the schema sets no bounds.
    assert_eq!(&limit["schema"]["default"], &json!(50));
    let event = &doc["components"]["schemas"]["EventView"];
    let mut required: Vec<&str> = event["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    required.sort_unstable();
    assert_eq!(
        required,
        ["event_id", "id", "payload", "received_at", "topic"]
    );

    // The webhook receiver names the headers it needs and what their absence answers.
    let webhook = &doc["paths"]["/api/webhooks/shopify"]["post"];
    let description = webhook["description"].as_str().unwrap();
    let params = webhook["parameters"].as_array().unwrap();
    for name in [
        "X-Shopify-Hmac-Sha256",
        "X-Shopify-Topic",
        "X-Shopify-Shop-Domain",
        "X-Shopify-Webhook-Id",
    ] {
        let param = params.iter().find(|p| p["name"] == name).unwrap();
        assert_eq!(
            (&param["in"], &param["required"]),
            (&json!("header"), &json!(true))
        );
        if name != "X-Shopify-Hmac-Sha256" {
            assert!(description.contains(&format!("`{name}`")), "{name}");
        }
    }
    assert!(
        description.contains("400 `missing_header`"),
        "{description}"
    );
    let bad_request = webhook["responses"]["400"]["description"].as_str().unwrap();
    assert!(bad_request.contains("missing_header"), "{bad_request}");
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn signed_webhooks_without_their_headers_are_refused(db: PgPool) {
    let stack = Stack::spawn_with(db, &["--shopify-api-secret", WEBHOOK_SECRET]).await;
    let anna = stack.onboarded("anna@example.de").await;
    let shop = "mein-laden.myshopify.com";
    let id = stack
        .connection_fixture(&anna, "shopify", "Mein Laden", shop, false)
        .await;
    for missing in [
        "x-shopify-topic",
        "x-shopify-shop-domain",
        "x-shopify-webhook-id",
    ] {
        let mut request = stack
            .http
            .post(stack.url("/api/webhooks/shopify"))
            .header("x-shopify-hmac-sha256", WEBHOOK_SIGNATURE);
        for (name, value) in [
            ("x-shopify-topic", "orders/create"),
            ("x-shopify-shop-domain", shop),
            ("x-shopify-webhook-id", "w-1"),
        ] {
            if name != missing {
                request = request.header(name, value);
            }
        }
        let res = request.body(WEBHOOK_BODY).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{missing}");
        assert_eq!(error_code(res).await, "missing_header", "{missing}");
    }
    assert!(listed_events(&stack, &anna, id, "").await.is_empty());
}

/// Gives `who` connections (straight into the database) until they have `total`.
async fn fill_connections(stack: &Stack, who: &SignedIn, total: i64) {
    let user: Uuid = who.user_id.parse().unwrap();
    let have: i64 = sqlx::query_scalar("SELECT count(*) FROM connections WHERE user_id = $1")
        .bind(user)
        .fetch_one(&stack.db)
        .await
        .unwrap();
    for i in have..total {
        stack
            .connection_fixture(who, "kaufland", &format!("Laden {i}"), "k", false)
            .await;
    }
}

async fn connections_of(stack: &Stack, who: &SignedIn) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM connections WHERE user_id = $1")
        .bind(who.user_id.parse::<Uuid>().unwrap())
        .fetch_one(&stack.db)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn a_merchant_has_at_most_100_connections(db: PgPool) {
    let running = sandbox().await;
    let stack = stack_with(db, &running, &SHOPIFY_SETTINGS).await;
    let anna = stack.onboarded("anna@example.de").await;
    let bernd = stack.onboarded("bernd@example.de").await;
    fill_connections(&stack, &anna, 99).await;
    let sandbox_shop = json!({ "platform": "shopify", "sandbox": true });
    let res = stack
        .post(&anna.access_token, "/api/connections", sandbox_shop.clone())
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    // The 101st is refused and not stored; others are not affected.
    let res = stack
        .post(&anna.access_token, "/api/connections", sandbox_shop.clone())
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(res).await, "too_many_connections");
    assert_eq!(connections_of(&stack, &anna).await, 100);
    let res = stack
        .post(
            &bernd.access_token,
            "/api/connections",
            sandbox_shop.clone(),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);

    // An install that would add the 101st: refused at the callback, nothing stored, and
    // it completes once a connection is gone.
    let approval = approve(&stack, &anna.access_token, json!({ "sandbox": true })).await;
    let res = callback(&stack, &approval.query, &approval.cookie).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(res).await, "too_many_connections");
    assert_eq!(connections_of(&stack, &anna).await, 100);
    let oldest = connections(&stack, &anna.access_token).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = stack
        .delete(&anna.access_token, &format!("/api/connections/{oldest}"))
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = callback(&stack, &approval.query, &approval.cookie).await;
    assert!(location(&res).contains("?connected="), "{}", location(&res));
    assert_eq!(connections_of(&stack, &anna).await, 100);

    // Concurrent creates cannot pass the cap together.
    let res = stack
        .delete(
            &anna.access_token,
            &format!(
                "/api/connections/{}",
                connections(&stack, &anna.access_token).await[0]["id"]
                    .as_str()
                    .unwrap()
            ),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let attempts =
        (0..8).map(|_| stack.post(&anna.access_token, "/api/connections", sandbox_shop.clone()));
    let statuses: Vec<StatusCode> = futures::future::join_all(attempts)
        .await
        .iter()
        .map(reqwest::Response::status)
        .collect();
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(connections_of(&stack, &anna).await, 100);
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn a_merchant_has_at_most_20_pending_installs(db: PgPool) {
    let running = sandbox().await;
    let stack = stack_with(db, &running, &SHOPIFY_SETTINGS).await;
    let anna = stack.onboarded("anna@example.de").await;
    let bernd = stack.onboarded("bernd@example.de").await;
    let bernds = approve(&stack, &bernd.access_token, json!({ "sandbox": true })).await;
    let first = approve(&stack, &anna.access_token, json!({ "sandbox": true })).await;
    let second = approve(&stack, &anna.access_token, json!({ "sandbox": true })).await;
    for _ in 0..19 {
        let res = stack
            .post(
                &anna.access_token,
                "/api/shopify/install",
                json!({ "sandbox": true }),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    // The 21st forgot Anna's oldest; Bernd's is untouched.
    let pending = |user: &SignedIn| {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM shopify_installs WHERE user_id = $1")
            .bind(user.user_id.parse::<Uuid>().unwrap())
            .fetch_one(&stack.db)
    };
    assert_eq!(pending(&anna).await.unwrap(), 20);
    assert_eq!(pending(&bernd).await.unwrap(), 1);
    let res = callback(&stack, &first.query, &first.cookie).await;
    assert_eq!(error_code(res).await, "invalid_state");
    let res = callback(&stack, &second.query, &second.cookie).await;
    assert!(location(&res).contains("?connected="), "{}", location(&res));
    let res = callback(&stack, &bernds.query, &bernds.cookie).await;
    assert!(location(&res).contains("?connected="), "{}", location(&res));
}
