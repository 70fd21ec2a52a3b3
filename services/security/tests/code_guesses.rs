//! The daily caps on code guesses (password reset, email verification) count per address and
//! client network, with a higher ceiling per address: an attacker's wrong guesses use up the
//! attacker's budget, not the owner's, and an unknown address answers like a known one.

mod common;

use common::{error_code, expect, TestApp};
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;

const OWNER: &str = "203.0.113.9";
const ATTACKER: &str = "198.51.100.66";

async fn app_behind_proxy(db: PgPool, guesses: &str) -> TestApp {
    TestApp::spawn_with(
        db,
        &[
            "--auth-rate-limit-per-minute=100000",
            "--mail-budget-per-minute=100000",
            "--mail-budget-per-hour=100000",
            "--trusted-proxies=127.0.0.1/32",
            guesses,
        ],
    )
    .await
}

/// A request as the proxy forwards it from `client`.
async fn post_from(app: &TestApp, client: &str, path: &str, body: Value) -> Response {
    app.http
        .post(app.url(path))
        .header("x-forwarded-for", client)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn confirm_reset(app: &TestApp, client: &str, email: &str, code: &str) -> Response {
    let body = json!({ "email": email, "code": code, "new_password": "Neues-Passwort-Sonne-7" });
    post_from(app, client, "/api/auth/password-reset/confirm", body).await
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn wrong_reset_guesses_from_another_network_do_not_lock_the_owner_out(db: PgPool) {
    let app = app_behind_proxy(db, "--reset-code-guesses-per-day=3").await;
    let email = "owner@example.de";
    app.verified_user(email).await;

    // No code is live; the attacker's guesses use up the attacker's budget, and an address
    // without an account answers exactly the same.
    for address in [email, "nobody@example.de"] {
        for _ in 0..3 {
            let res = confirm_reset(&app, ATTACKER, address, "123456").await;
            assert_eq!(error_code(res).await, "invalid_code", "{address}");
        }
        let res = confirm_reset(&app, ATTACKER, address, "123456").await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "{address}");
        assert_eq!(error_code(res).await, "reset_attempts_exhausted");
    }

    // The owner still resets with the code they were mailed.
    let req = json!({ "email": email });
    let res = post_from(&app, OWNER, "/api/auth/password-reset/request", req).await;
    expect(res, StatusCode::ACCEPTED).await;
    let code = app.code_for(email).await;
    let res = confirm_reset(&app, OWNER, email, &code).await;
    expect(res, StatusCode::OK).await;
    // The attacker's network stays refused, even with a right code.
    let res = confirm_reset(&app, ATTACKER, email, &code).await;
    assert_eq!(error_code(res).await, "reset_attempts_exhausted");
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn many_networks_together_meet_a_ceiling_per_address(db: PgPool) {
    let app = app_behind_proxy(db, "--reset-code-guesses-per-day=2").await;
    let email = "target@example.de";
    app.verified_user(email).await;
    // Ten networks' budgets make the address's ceiling; the eleventh network is refused, for
    // a known address and an unknown one alike.
    for address in [email, "nobody@example.de"] {
        for network in 1..=10 {
            let client = format!("198.51.100.{network}");
            for _ in 0..2 {
                let res = confirm_reset(&app, &client, address, "123456").await;
                assert_eq!(error_code(res).await, "invalid_code", "{address} {client}");
            }
        }
        let res = confirm_reset(&app, "192.0.2.1", address, "123456").await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "{address}");
        assert_eq!(error_code(res).await, "reset_attempts_exhausted");
    }
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn wrong_verification_guesses_from_another_network_do_not_block_the_owner(db: PgPool) {
    let app = app_behind_proxy(db, "--verification-code-guesses-per-day=3").await;
    let email = "newcomer@example.de";
    let verify = |client: &'static str, code: String| {
        post_from(
            &app,
            client,
            "/api/auth/verify-email",
            json!({ "email": email, "code": code }),
        )
    };
    for _ in 0..3 {
        let res = verify(ATTACKER, "123456".into()).await;
        assert_eq!(error_code(res).await, "invalid_code");
    }
    let res = verify(ATTACKER, "123456".into()).await;
    assert_eq!(error_code(res).await, "verification_attempts_exhausted");

    let sign_up = json!({ "email": email, "password": common::PASSWORD, "full_name": "Anna", "language": "en" });
    let res = post_from(&app, OWNER, "/api/auth/register", sign_up).await;
    expect(res, StatusCode::ACCEPTED).await;
    let code = app.code_for(email).await;
    expect(verify(OWNER, code).await, StatusCode::OK).await;
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn the_64s_of_one_ipv6_site_share_one_budget(db: PgPool) {
    let app = app_behind_proxy(db, "--reset-code-guesses-per-day=3").await;
    let email = "v6@example.de";
    app.verified_user(email).await;
    // Three guesses, each from another /64 of the attacker's /48: that is the site's budget.
    for n in 1..=3 {
        let client = format!("2001:db8:66:{n}::1");
        let res = confirm_reset(&app, &client, email, "123456").await;
        assert_eq!(error_code(res).await, "invalid_code");
    }
    let res = confirm_reset(&app, "2001:db8:66:4::1", email, "123456").await;
    assert_eq!(error_code(res).await, "reset_attempts_exhausted");
    // Another site is counted on its own.
    let res = confirm_reset(&app, "2001:db8:77::1", email, "123456").await;
    assert_eq!(error_code(res).await, "invalid_code");
}
