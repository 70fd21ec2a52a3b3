use sqlx::PgConnection;
use sqlx::PgExecutor;
use uuid::Uuid;

/// Replaces all of a user's recovery codes with new ones.
pub async fn replace(db: &mut PgConnection, user_id: Uuid, hashes: &[Vec<u8>]) -> sqlx::Result<()> {
    delete_for_user(&mut *db, user_id).await?;
    for hash in hashes {
        sqlx::query("INSERT INTO recovery_codes (id, user_id, code_hash) VALUES ($1, $2, $3)")
            .bind(Uuid::now_v7())
            .bind(user_id)
            .bind(hash)
            .execute(&mut *db)
            .await?;
    }
    Ok(())
}

pub async fn delete_for_user(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(())
}

/// Uses up a recovery code; `false` if it is unknown or was used.
pub async fn consume(db: impl PgExecutor<'_>, user_id: Uuid, hash: &[u8]) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE recovery_codes SET used_at = now() WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
    )
    .bind(user_id)
    .bind(hash)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}
