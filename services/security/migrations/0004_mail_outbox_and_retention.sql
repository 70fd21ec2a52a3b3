-- The transactional outbox: a mail is written in the same transaction as the code it carries
-- and delivered from here by a background worker (mail/worker.rs), with retries. Bodies hold
-- one-time codes: they are blanked once the mail is sent, given up or dropped.
CREATE TABLE mail_outbox (
    id              uuid PRIMARY KEY,
    kind            text NOT NULL,
    recipient       text NOT NULL,
    subject         text NOT NULL,
    body            text,
    -- Caused by a request anyone can make (sign-up, resend, reset) and not yet counted
    -- against the platform-wide mail budget.
    budgeted        boolean NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed', 'dropped')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    CHECK ((status = 'pending') = (finished_at IS NULL)),
    CHECK (status = 'pending' OR body IS NULL)
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX mail_outbox_finished ON mail_outbox (finished_at) WHERE status <> 'pending';

-- Wakes the workers: a notification is delivered when the inserting transaction commits.
CREATE FUNCTION mail_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('mail_outbox', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER mail_outbox_queued AFTER INSERT ON mail_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION mail_outbox_notify();

-- For the scheduled pruning of what only grows (db/retention.rs).
CREATE INDEX security_events_by_time ON security_events (created_at);
CREATE INDEX sessions_expiry ON sessions (expires_at);
CREATE INDEX sessions_revoked ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX refresh_tokens_used ON refresh_tokens (used_at) WHERE used_at IS NOT NULL;
CREATE INDEX login_tickets_expiry ON login_tickets (expires_at);
