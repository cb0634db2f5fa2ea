-- Polling an e-mail integration's IMAP folder: the folder's UIDVALIDITY and the last UID
-- taken (stored as a request and marked), so nothing is taken twice or skipped.
CREATE TABLE mailbox_polls (
    integration_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    uid_validity INTEGER NOT NULL,
    last_uid INTEGER NOT NULL,
    polls INTEGER NOT NULL DEFAULT 0,
    taken INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    last_polled_at TEXT NOT NULL
);
