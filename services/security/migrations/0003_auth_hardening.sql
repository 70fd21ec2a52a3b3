-- Attempt budgets that span tickets and codes: second-factor checks per account, reset-code
-- guesses per address. Keyed by an HMAC (like login_throttle), so an address without an
-- account is counted exactly like one with an account. A row whose window has passed is
-- stale and starts over on its next use.
CREATE TABLE attempt_budgets (
    key_hash     bytea PRIMARY KEY,
    window_start timestamptz NOT NULL,
    attempts     integer NOT NULL
);

-- The refresh-rotation grace window: a used refresh token keeps its successor, sealed with a
-- pad derived from the used token itself (which only its holder knows; the table keeps only
-- its SHA-256), so presenting it again within the reuse interval returns that successor.
ALTER TABLE refresh_tokens ADD COLUMN successor_sealed bytea;
