//! Issue 6: budgets that span tickets and codes, the refresh grace window, tampered hashes,
//! accounts that cannot log in, and sign-up squatting.

mod common;

use std::time::{Duration, Instant};

use common::{error_code, expect, tokens, TestApp, PASSWORD};
use futures::future::join_all;
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use sm_testkit::extract_code;
use sqlx::PgPool;

const MAIL_WAIT: Duration = Duration::from_secs(10);

/// A code that is not `code`.
fn other_than(code: &str) -> &'static str {
    if code == "000000" {
        "111111"
    } else {
        "000000"
    }
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn parallel_second_factor_guesses_over_several_tickets_get_ten_checks(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let email = "phished@example.de";
    app.verified_user(email).await;
    // The attacker knows the password: six tickets, five tries each, all sent at once.
    let mut tickets = Vec::new();
    for _ in 0..6 {
        tickets.push(app.login_ticket(email, PASSWORD).await);
    }
    let code = app.code_for(email).await;
    let wrong = other_than(&code);
    let guesses: Vec<Value> = tickets
        .iter()
        .flat_map(|ticket| (0..5).map(move |_| json!({ "ticket": ticket, "code": wrong })))
        .collect();
    let answers = join_all(
        guesses
            .into_iter()
            .map(|guess| app.post("/api/auth/verify-2fa", guess)),
    )
    .await;
    let mut checked = 0;
    let mut refused = 0;
    for res in answers {
        match res.status() {
            StatusCode::BAD_REQUEST => {
                assert_eq!(error_code(res).await, "invalid_code");
                checked += 1;
            }
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(res.headers().contains_key("retry-after"));
                refused += 1;
            }
            other => panic!("unexpected {other}: {}", res.text().await.unwrap()),
        }
    }
    assert!(checked <= 10, "{checked} second factors were checked");
    assert_eq!(checked + refused, 30);
    // The owner, with the right code, waits too until the window has passed.
    let ticket = app.login_ticket(email, PASSWORD).await;
    let res = app
        .post(
            "/api/auth/verify-2fa",
            json!({ "ticket": ticket, "code": code }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn successful_second_factors_do_not_use_up_the_budget(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let email = "daily@example.de";
    app.verified_user(email).await;
    for _ in 0..12 {
        app.login(email).await;
        // The next login must get a new code (the resend cooldown would keep the old one).
        sqlx::query("UPDATE verification_codes SET created_at = now() - interval '2 minutes'")
            .execute(&app.db)
            .await
            .unwrap();
    }
}

async fn request_reset(app: &TestApp, email: &str) {
    let res = app
        .post(
            "/api/auth/password-reset/request",
            json!({ "email": email }),
        )
        .await;
    expect(res, StatusCode::ACCEPTED).await;
}

async fn confirm_reset(app: &TestApp, email: &str, code: &str) -> Response {
    app.post(
        "/api/auth/password-reset/confirm",
        json!({ "email": email, "code": code, "new_password": "Neues-Passwort-Sonne-7" }),
    )
    .await
}

/// Lets the next reset request mail a new code at once, as a minute later would.
async fn pass_the_resend_cooldown(app: &TestApp) {
    sqlx::query("UPDATE verification_codes SET created_at = now() - interval '2 minutes'")
        .execute(&app.db)
        .await
        .unwrap();
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn reset_code_guesses_are_capped_per_address_across_codes(db: PgPool) {
    let app = TestApp::spawn_with(
        db,
        &[
            "--auth-rate-limit-per-minute=100000",
            "--reset-code-guesses-per-day=7",
        ],
    )
    .await;
    let email = "target@example.de";
    app.verified_user(email).await;

    // Five wrong guesses use up the first code; a new code resets only that code's count.
    request_reset(&app, email).await;
    let code = app.code_for(email).await;
    for _ in 0..5 {
        let res = confirm_reset(&app, email, other_than(&code)).await;
        assert_eq!(error_code(res).await, "invalid_code");
    }
    pass_the_resend_cooldown(&app).await;
    request_reset(&app, email).await;
    let code = app.code_for(email).await;
    for _ in 0..2 {
        let res = confirm_reset(&app, email, other_than(&code)).await;
        assert_eq!(error_code(res).await, "invalid_code");
    }
    // Seven guesses today: even the right code is refused now, with a stable code.
    let res = confirm_reset(&app, email, &code).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 23 * 3600, "{retry_after}");
    assert_eq!(error_code(res).await, "reset_attempts_exhausted");

    // An address without an account answers the same way once it made as many guesses.
    for _ in 0..7 {
        let res = confirm_reset(&app, "nobody@example.de", "123456").await;
        assert_eq!(error_code(res).await, "invalid_code");
    }
    let res = confirm_reset(&app, "nobody@example.de", "123456").await;
    assert_eq!(error_code(res).await, "reset_attempts_exhausted");

    // A day later the right code works again.
    sqlx::query("UPDATE attempt_budgets SET window_start = now() - interval '25 hours'")
        .execute(&app.db)
        .await
        .unwrap();
    let res = confirm_reset(&app, email, &code).await;
    expect(res, StatusCode::OK).await;
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn verification_code_guesses_are_capped_per_address_across_sign_ups(db: PgPool) {
    let app = TestApp::spawn_with(
        db,
        &[
            "--auth-rate-limit-per-minute=100000",
            "--verification-code-guesses-per-day=4",
        ],
    )
    .await;
    let email = "squatted@example.de";
    let verify = |code: String| {
        app.post(
            "/api/auth/verify-email",
            json!({ "email": email, "code": code }),
        )
    };
    // A sign-up a minute mails a new code, so a squatter could get endless fresh tries per
    // code...
    let mut code = String::new();
    for _ in 0..4 {
        pass_the_resend_cooldown(&app).await;
        app.register(email).await;
        code = app.code_for(email).await;
        let res = verify(other_than(&code).to_owned()).await;
        assert_eq!(error_code(res).await, "invalid_code");
    }
    // ...but not per address.
    let res = verify(code).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(error_code(res).await, "verification_attempts_exhausted");
}

fn refresh_cookie_of(res: &Response) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("sm_refresh="))
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn two_tabs_refreshing_at_once_both_get_the_same_successor(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let first = app.signed_in("tabs@example.de").await;

    let answers = join_all((0..4).map(|_| app.refresh(&first.refresh))).await;
    let mut successors = Vec::new();
    for res in answers {
        let res = expect(res, StatusCode::OK).await;
        let cookie = refresh_cookie_of(&res).expect("the cookie is set");
        let t = tokens(res).await;
        assert!(
            cookie.contains(&t.refresh),
            "the cookie carries the successor"
        );
        assert_eq!(app.introspect(&t.access).await["active"], true);
        successors.push(t);
    }
    let successor = &successors[0].refresh;
    assert!(
        successors.iter().all(|t| &t.refresh == successor),
        "one chain, not several"
    );
    let issued: i64 = sqlx::query_scalar("SELECT count(*) FROM refresh_tokens")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(issued, 2, "the first token and its one successor");

    // A retried request a moment later gets that successor too; then the chain goes on.
    let retried = tokens(expect(app.refresh(&first.refresh).await, StatusCode::OK).await).await;
    assert_eq!(&retried.refresh, successor);
    let next = tokens(expect(app.refresh(successor).await, StatusCode::OK).await).await;
    assert_ne!(&next.refresh, successor);
    assert_eq!(app.introspect(&next.access).await["active"], true);
    let live: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions WHERE revoked_at IS NULL")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(live, 1);
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn a_replay_after_the_reuse_interval_ends_the_session_and_drops_the_cookie(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let first = app.signed_in("late@example.de").await;
    let second = tokens(expect(app.refresh(&first.refresh).await, StatusCode::OK).await).await;
    // Eleven seconds later (the default interval is ten).
    sqlx::query("UPDATE refresh_tokens SET used_at = used_at - interval '11 seconds' WHERE used_at IS NOT NULL")
        .execute(&app.db)
        .await
        .unwrap();

    let res = app
        .http
        .post(app.url("/api/auth/refresh-token"))
        .header("cookie", format!("sm_refresh={}", first.refresh))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let cookie = refresh_cookie_of(&res).expect("a refused refresh drops the cookie");
    assert!(cookie.starts_with("sm_refresh=;"), "{cookie}");
    assert!(cookie.contains("Max-Age=0"), "{cookie}");
    assert_eq!(error_code(res).await, "invalid_refresh_token");
    assert_eq!(app.introspect(&second.access).await["active"], false);
    assert_eq!(
        error_code(app.refresh(&second.refresh).await).await,
        "invalid_refresh_token"
    );
    let reason: String = sqlx::query_scalar("SELECT revoked_reason FROM sessions")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(reason, "refresh_token_reuse");

    // An unknown token is refused the same way, cookie dropped too.
    let res = app.refresh("not-a-token").await;
    assert!(refresh_cookie_of(&res).unwrap().contains("Max-Age=0"));
    assert_eq!(error_code(res).await, "invalid_refresh_token");
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn a_spent_token_whose_successor_was_used_is_a_replay_even_within_the_interval(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let first = app.signed_in("moved-on@example.de").await;
    let second = tokens(expect(app.refresh(&first.refresh).await, StatusCode::OK).await).await;
    let third = tokens(expect(app.refresh(&second.refresh).await, StatusCode::OK).await).await;
    assert_eq!(
        error_code(app.refresh(&first.refresh).await).await,
        "invalid_refresh_token"
    );
    assert_eq!(app.introspect(&third.access).await["active"], false);
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn a_stored_hash_asking_for_4_gib_is_refused_at_once(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let email = "tampered@example.de";
    app.verified_user(email).await;
    sqlx::query("UPDATE users SET password_hash = replace(password_hash, 'm=19456', 'm=4194304')")
        .execute(&app.db)
        .await
        .unwrap();
    let started = Instant::now();
    let res = app
        .post(
            "/api/auth/login",
            json!({ "email": email, "password": PASSWORD }),
        )
        .await;
    assert_eq!(error_code(res).await, "invalid_credentials");
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// Statuses and bodies (without the request id) of `n` login attempts.
async fn login_answers(app: &TestApp, email: &str, password: &str, n: usize) -> Vec<(u16, Value)> {
    let mut answers = Vec::new();
    for _ in 0..n {
        let res = app
            .post(
                "/api/auth/login",
                json!({ "email": email, "password": password }),
            )
            .await;
        let status = res.status().as_u16();
        let mut body: Value = res.json().await.unwrap();
        body["error"]["request_id"] = Value::Null;
        answers.push((status, body));
    }
    answers
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn the_right_password_of_an_account_that_cannot_log_in_looks_wrong(db: PgPool) {
    let app = TestApp::spawn(db).await;
    app.register("unverified@example.de").await;
    app.verified_user("disabled@example.de").await;
    sqlx::query("UPDATE users SET is_active = false WHERE email = 'disabled@example.de'")
        .execute(&app.db)
        .await
        .unwrap();
    app.verified_user("active@example.de").await;

    let wrong = login_answers(&app, "active@example.de", "Falsch-Falsch-1", 7).await;
    assert_eq!(wrong[0].0, 401);
    assert_eq!(wrong[6].0, 429, "wrong passwords are throttled");
    for email in ["unverified@example.de", "disabled@example.de"] {
        let right = login_answers(&app, email, PASSWORD, 7).await;
        assert_eq!(
            right, wrong,
            "{email}: the right password must look like a wrong one"
        );
    }
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn whoever_proves_the_mailbox_decides_the_password(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let email = "victim@example.de";
    let squatter_password = "Besetzt-Besetzt-99";
    let owner_password = "Meins-Meins-Meins-12";
    let sign_up = |password: &'static str, name: &'static str| {
        app.post(
            "/api/auth/register",
            json!({ "email": email, "password": password, "full_name": name, "language": "en" }),
        )
    };
    // The squatter signs up first; the owner, seconds later, does too. Within the resend
    // cooldown no second mail goes out: the code in the owner's mailbox is the squatter's.
    expect(
        sign_up(squatter_password, "Mallory").await,
        StatusCode::ACCEPTED,
    )
    .await;
    let squatters_mail = app.sink.wait_for(email, MAIL_WAIT).await;
    expect(
        sign_up(owner_password, "Anna Schmidt").await,
        StatusCode::ACCEPTED,
    )
    .await;

    // That code verifies the account with the latest sign-up's password: the owner's.
    let res = app
        .post(
            "/api/auth/verify-email",
            json!({ "email": email, "code": extract_code(&squatters_mail.text) }),
        )
        .await;
    expect(res, StatusCode::OK).await;

    let res = app
        .post(
            "/api/auth/login",
            json!({ "email": email, "password": squatter_password }),
        )
        .await;
    assert_eq!(error_code(res).await, "invalid_credentials");
    let ticket = app.login_ticket(email, owner_password).await;
    let code = app.code_for(email).await;
    let res = app
        .post(
            "/api/auth/verify-2fa",
            json!({ "ticket": ticket, "code": code }),
        )
        .await;
    let session = tokens(expect(res, StatusCode::OK).await).await;
    assert_eq!(session.body["user"]["full_name"], "Anna Schmidt");

    // Once verified, a sign-up changes nothing: the owner only gets a notice.
    expect(
        sign_up(squatter_password, "Mallory").await,
        StatusCode::ACCEPTED,
    )
    .await;
    let notice = app.sink.wait_for(email, MAIL_WAIT).await;
    assert!(
        notice.subject.contains("already have"),
        "{}",
        notice.subject
    );
    app.login_ticket(email, owner_password).await;
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn sign_ups_for_one_address_mail_at_most_once_a_minute(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let email = "flooded@example.de";
    let sign_up = |password: &'static str| {
        app.post(
            "/api/auth/register",
            json!({ "email": email, "password": password, "full_name": "Anna", "language": "en" }),
        )
    };
    let mailed = || async {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM mail_outbox WHERE recipient = $1")
            .bind(email)
            .fetch_one(&app.db)
            .await
            .unwrap();
        n
    };
    let first: Value = expect(
        sign_up("Erster-Versuch-Sonne-1").await,
        StatusCode::ACCEPTED,
    )
    .await
    .json()
    .await
    .unwrap();
    let first_code = app.code_for(email).await;

    // A burst of sign-ups within the minute: the same answers, no new mail, and the code
    // already mailed stays live.
    let burst = join_all((0..8).map(|_| sign_up(PASSWORD))).await;
    for res in burst {
        let body: Value = expect(res, StatusCode::ACCEPTED)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(body, first);
    }
    assert_eq!(mailed().await, 1);

    // A minute later a sign-up mails a new code again, which replaces the first one.
    pass_the_resend_cooldown(&app).await;
    expect(sign_up(PASSWORD).await, StatusCode::ACCEPTED).await;
    let second_code = app.code_for(email).await;
    assert_eq!(mailed().await, 2);
    if second_code != first_code {
        let res = app
            .post(
                "/api/auth/verify-email",
                json!({ "email": email, "code": first_code }),
            )
            .await;
        assert_eq!(error_code(res).await, "invalid_code");
    }

    // The live code verifies into the latest sign-up's password, not the first one's.
    let res = app
        .post(
            "/api/auth/verify-email",
            json!({ "email": email, "code": second_code }),
        )
        .await;
    expect(res, StatusCode::OK).await;
    let res = app
        .post(
            "/api/auth/login",
            json!({ "email": email, "password": "Erster-Versuch-Sonne-1" }),
        )
        .await;
    assert_eq!(error_code(res).await, "invalid_credentials");
    app.login_ticket(email, PASSWORD).await;
}

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn a_reset_request_answers_before_looking_anything_up(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let email = "known@example.de";
    app.verified_user(email).await;
    // While the users table cannot be read, the answer for a known and an unknown address
    // still comes at once: it waits for no lookup, so it cannot take longer for either.
    let mut lock = app.db.begin().await.unwrap();
    sqlx::query("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    for address in [email, "nobody@example.de"] {
        let answer = tokio::time::timeout(
            Duration::from_secs(3),
            app.post(
                "/api/auth/password-reset/request",
                json!({ "email": address }),
            ),
        )
        .await
        .unwrap_or_else(|_| panic!("the answer for {address} waited for the database"));
        expect(answer, StatusCode::ACCEPTED).await;
    }
    lock.rollback().await.unwrap();
    // The work still happens: the owner gets the code.
    let code = app.code_for(email).await;
    assert_eq!(code.len(), 6);
}
