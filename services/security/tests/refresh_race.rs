//! A just-rotated refresh token presented again gets its successor only while that successor
//! is live — also when the successor's own rotation is running at that very moment.

mod common;

use std::time::Duration;

use common::{error_code, expect, tokens, TestApp};
use reqwest::StatusCode;
use sqlx::PgPool;

#[sqlx::test(migrator = "security::MIGRATOR")]
async fn a_reuse_racing_the_successors_rotation_never_hands_out_a_spent_token(db: PgPool) {
    let app = TestApp::spawn(db).await;
    let first = app.signed_in("race@example.de").await;
    let second = tokens(expect(app.refresh(&first.refresh).await, StatusCode::OK).await).await;

    // One tab rotates the successor: its transaction has used the token up, not yet committed.
    let mut rotation = app.db.begin().await.unwrap();
    let used = sqlx::query(
        "UPDATE refresh_tokens SET used_at = now() WHERE token_hash = $1 AND used_at IS NULL",
    )
    .bind(security::crypto::opaque::hash(&second.refresh))
    .execute(&mut *rotation)
    .await
    .unwrap();
    assert_eq!(used.rows_affected(), 1);
    // Meanwhile another tab presents the first token again, within the reuse interval.
    let (answer, ()) = tokio::join!(app.refresh(&first.refresh), async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        rotation.commit().await.unwrap();
    });
    // The successor it would get is spent by then: that is the replay of a spent token whose
    // successor was used, never a handed-out token that is already used.
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(answer).await, "invalid_refresh_token");
}
