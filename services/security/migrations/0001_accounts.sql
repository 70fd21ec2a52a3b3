-- Accounts, one-time codes, sessions with rotating refresh tokens, second factors, audit log.

CREATE TYPE user_role AS ENUM ('merchant', 'partner', 'admin');
CREATE TYPE code_purpose AS ENUM ('email_verification', 'login_2fa', 'password_reset');

CREATE TABLE users (
    id                  uuid PRIMARY KEY,
    email               text NOT NULL UNIQUE CHECK (email = lower(email) AND length(email) <= 254),
    password_hash       text NOT NULL,
    full_name           text NOT NULL,
    language            text NOT NULL DEFAULT 'de' CHECK (language IN ('de', 'en')),
    role                user_role NOT NULL DEFAULT 'merchant',
    is_verified         boolean NOT NULL DEFAULT false,
    is_active           boolean NOT NULL DEFAULT true,
    -- TOTP secret, AES-256-GCM encrypted (nonce || ciphertext); pending until the first code confirms it.
    totp_secret_enc     bytea,
    totp_pending_enc    bytea,
    totp_enabled_at     timestamptz,
    -- The last accepted TOTP time step: a code is accepted once.
    totp_last_step      bigint,
    password_changed_at timestamptz NOT NULL DEFAULT now(),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- One live code per user and purpose: issuing a new code replaces (kills) the old one.
CREATE TABLE verification_codes (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose     code_purpose NOT NULL,
    code_hash   bytea NOT NULL,          -- HMAC-SHA256 keyed by the server, bound to user and purpose
    attempts    integer NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    UNIQUE (user_id, purpose)
);

CREATE TABLE sessions (
    id              uuid PRIMARY KEY,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_used_at    timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    revoked_at      timestamptz,
    revoked_reason  text,
    ip              inet,
    user_agent      text
);
CREATE INDEX sessions_live_by_user ON sessions (user_id) WHERE revoked_at IS NULL;

-- Every refresh token ever issued for a session; a used one presented again revokes the session.
CREATE TABLE refresh_tokens (
    token_hash  bytea PRIMARY KEY,       -- SHA-256 of the 256-bit random token
    session_id  uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    used_at     timestamptz
);
CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);

-- The pending second step of a login: opens nothing but /api/auth/verify-2fa, once.
CREATE TABLE login_tickets (
    ticket_hash bytea PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    method      text NOT NULL CHECK (method IN ('email', 'totp')),
    attempts    integer NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);

CREATE TABLE recovery_codes (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash   bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    used_at     timestamptz,
    UNIQUE (user_id, code_hash)
);

-- Failed password attempts per (account, client network). Keyed by a hash so unknown emails
-- are throttled exactly like known ones, and per network so an attacker slows only himself.
CREATE TABLE login_throttle (
    key_hash        bytea PRIMARY KEY,
    failures        integer NOT NULL,
    last_failure_at timestamptz NOT NULL,
    locked_until    timestamptz
);

CREATE TABLE security_events (
    id          uuid PRIMARY KEY,
    user_id     uuid REFERENCES users (id) ON DELETE SET NULL,
    kind        text NOT NULL,
    ip          inet,
    user_agent  text,
    detail      jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX security_events_by_user ON security_events (user_id, created_at DESC);
