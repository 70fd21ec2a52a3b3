-- Addresses are now kept in one canonical spelling (see domain/email.rs): lower case, the
-- local part in Unicode NFC, the domain in its IDNA ASCII form. Rows written before can hold
-- another spelling of a mailbox that has an account already (`acc@bücher.test` beside
-- `acc@xn--bcher-kva.test`). IDNA cannot be computed in SQL, so this migration only
-- schedules the rewrite; the service performs it once at start-up, with the same function
-- requests use (data_migrations.rs), and deletes the row below in the same transaction.
-- Of spellings that meet, the verified account (else the oldest) keeps the address; the
-- others are disabled and renamed to `<id>@duplicate.invalid`, with a security event that
-- names the account kept and the old spelling.
CREATE TABLE pending_data_migrations (
    name text PRIMARY KEY
);
INSERT INTO pending_data_migrations (name) VALUES ('canonical_emails');
