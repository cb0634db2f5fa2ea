-- Polling an e-mail integration's IMAP folder: the folder's UIDVALIDITY and the last UID
-- taken (stored as a request and marked), so nothing is taken twice or skipped.
CREATE TABLE mailbox_polls (
    integration_id TEXT COLLATE "C" PRIMARY KEY,
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    uid_validity BIGINT NOT NULL,
    last_uid BIGINT NOT NULL,
    polls BIGINT NOT NULL DEFAULT 0,
    taken BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    last_polled_at TIMESTAMPTZ NOT NULL
);
