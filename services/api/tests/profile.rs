//! Company profile and the data-processing agreement (AVV).

mod common;

use common::{complete_profile, error_code, Stack};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn profile_is_checked_and_completion_derived(db: PgPool) {
    let stack = Stack::spawn(db).await;
    let anna = stack.merchant("anna@example.de").await;
    let empty: Value = stack
        .get(&anna.access_token, "/api/profile")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(empty["profile_completed"], false);
    assert_eq!(empty["avv"]["signed"], false);
    assert_eq!(empty["missing_fields"].as_array().unwrap().len(), 6);

    let mut bad = complete_profile();
    bad["vat_id"] = json!("DE123456789");
    bad["postal_code"] = json!("123");
    let res = stack.put(&anna.access_token, "/api/profile", bad).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = res.json().await.unwrap();
    let fields: Vec<&str> = body["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["postal_code", "vat_id"]);
    // Nothing was half-written.
    let still: Value = stack
        .get(&anna.access_token, "/api/profile")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(still["company_name"], "");

    let res = stack
        .put(&anna.access_token, "/api/profile", complete_profile())
        .await;
    let saved: Value = res.json().await.unwrap();
    assert_eq!(saved["profile_completed"], true);
    assert_eq!(saved["vat_id"], "DE136695976");
    // Another merchant sees only their own (empty) profile.
    let bernd = stack.merchant("bernd@example.de").await;
    let theirs: Value = stack
        .get(&bernd.access_token, "/api/profile")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["company_name"], "");
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn avv_is_signed_once_per_version_and_downloads_as_pdf(db: PgPool) {
    let stack = Stack::spawn(db).await;
    let anna = stack.merchant("anna@example.de").await;
    let sign = |version: &str| json!({ "version": version, "signer_name": "Anna Schmidt", "signer_role": "Geschäftsführerin", "accept": true });

    let avv: Value = stack
        .get(&anna.access_token, "/api/profile/avv?language=en")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(avv["version"], api::avv::CURRENT);
    assert!(avv["text"].as_str().unwrap().contains("Art. 28 GDPR"));
    assert_eq!(avv["signed"], false);

    // No connections before signing.
    let res = stack
        .post(
            &anna.access_token,
            "/api/connections",
            json!({ "platform": "shopify", "shop_name": "x", "credentials": {} }),
        )
        .await;
    assert_eq!(error_code(res).await, "avv_signature_required");
    // No signing before the company is known.
    assert_eq!(
        error_code(
            stack
                .post(
                    &anna.access_token,
                    "/api/profile/avv-sign",
                    sign(api::avv::CURRENT)
                )
                .await
        )
        .await,
        "profile_incomplete"
    );
    stack
        .put(&anna.access_token, "/api/profile", complete_profile())
        .await;
    assert_eq!(
        error_code(
            stack
                .post(&anna.access_token, "/api/profile/avv-sign", sign("2020-01"))
                .await
        )
        .await,
        "avv_version_outdated"
    );
    let mut unaccepted = sign(api::avv::CURRENT);
    unaccepted["accept"] = json!(false);
    assert_eq!(
        error_code(
            stack
                .post(&anna.access_token, "/api/profile/avv-sign", unaccepted)
                .await
        )
        .await,
        "validation_failed"
    );

    let res = stack
        .http
        .post(stack.url("/api/profile/avv-sign"))
        .bearer_auth(&anna.access_token)
        .header("user-agent", "AnnaBrowser/1.0")
        .json(&sign(api::avv::CURRENT))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let first: Value = res.json().await.unwrap();
    let german = api::avv::text(api::avv::CURRENT, api::avv::Language::De).unwrap();
    assert_eq!(first["text_sha256"], api::avv::sha256_hex(german));
    assert_eq!(first["company_name"], "Müller Handel GmbH");
    let (ip, agent): (String, String) =
        sqlx::query_as("SELECT host(ip), user_agent FROM avv_signatures")
            .fetch_one(&stack.db)
            .await
            .unwrap();
    assert_eq!(
        (ip.as_str(), agent.as_str()),
        ("127.0.0.1", "AnnaBrowser/1.0")
    );

    // Idempotent: the same signature, not a second one.
    let res = stack
        .post(
            &anna.access_token,
            "/api/profile/avv-sign",
            sign(api::avv::CURRENT),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let again: Value = res.json().await.unwrap();
    assert_eq!(again["signed_at"], first["signed_at"]);
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM avv_signatures")
        .fetch_one(&stack.db)
        .await
        .unwrap();
    assert_eq!(count, 1);
    let profile: Value = stack
        .get(&anna.access_token, "/api/profile")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(profile["avv"]["signed"], true);

    let res = stack.get(&anna.access_token, "/api/profile/avv/pdf").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    let pdf = res.bytes().await.unwrap();
    let text = pdf_extract::extract_text_from_mem(&pdf).expect("a real PDF");
    for expected in [
        "Auftragsverarbeitung",
        "Anna Schmidt",
        "Müller Handel GmbH",
        first["text_sha256"].as_str().unwrap(),
    ] {
        assert!(text.contains(expected), "{expected} missing from the PDF");
    }

    // Someone else has signed nothing.
    let bernd = stack.merchant("bernd@example.de").await;
    assert_eq!(
        error_code(stack.get(&bernd.access_token, "/api/profile/avv/pdf").await).await,
        "avv_not_signed"
    );
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn a_new_avv_version_must_be_signed_again(db: PgPool) {
    let stack = Stack::spawn(db).await;
    let anna = stack.onboarded("anna@example.de").await;
    // Pretend her signature was for an older version.
    sqlx::query("UPDATE avv_signatures SET version = '2025-01'")
        .execute(&stack.db)
        .await
        .unwrap();
    let profile: Value = stack
        .get(&anna.access_token, "/api/profile")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(profile["avv"]["signed"], false);
    let res = stack
        .post(
            &anna.access_token,
            "/api/connections",
            json!({ "platform": "shopify", "shop_name": "x", "credentials": {} }),
        )
        .await;
    assert_eq!(error_code(res).await, "avv_signature_required");
}

/// Signs the current AVV as `signer_name` and downloads the PDF's answer.
async fn sign_and_download(stack: &Stack, token: &str, signer_name: &str) -> reqwest::Response {
    let res = stack.put(token, "/api/profile", complete_profile()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let sign = json!({ "version": api::avv::CURRENT, "signer_name": signer_name, "signer_role": "Jednatel", "accept": true });
    let res = stack.post(token, "/api/profile/avv-sign", sign).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    stack.get(token, "/api/profile/avv/pdf").await
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn the_avv_pdf_prints_czech_and_polish_names_exactly(db: PgPool) {
    let stack = Stack::spawn(db).await;
    let anna = stack.merchant("anna@example.de").await;
    let name = "Řehoř Żółć Ďurovič";
    let res = sign_and_download(&stack, &anna.access_token, name).await;
    assert_eq!(res.status(), StatusCode::OK);
    let pdf = res.bytes().await.unwrap();
    let text = pdf_extract::extract_text_from_mem(&pdf).expect("a real PDF");
    assert!(text.contains(name), "{name} missing from the PDF: {text}");
    assert!(!text.contains('?'), "no character replaced");
}

#[sqlx::test(migrator = "api::MIGRATOR")]
async fn no_pdf_when_the_shipped_text_is_not_the_signed_one(db: PgPool) {
    let stack = Stack::spawn(db).await;
    let anna = stack.merchant("anna@example.de").await;
    let res = sign_and_download(&stack, &anna.access_token, "Anna Schmidt").await;
    assert_eq!(res.status(), StatusCode::OK);
    // As if the published text had been edited after signing.
    sqlx::query("UPDATE avv_signatures SET text_sha256 = repeat('0', 64)")
        .execute(&stack.db)
        .await
        .unwrap();
    let res = stack.get(&anna.access_token, "/api/profile/avv/pdf").await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "avv_text_mismatch");
}
