-- Polling a tracker for changes: where the next poll starts and how the last ones went.
CREATE TABLE tracker_polls (
    integration_id TEXT COLLATE "C" PRIMARY KEY,
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- Changes at or after this time may not have been seen yet.
    cursor TIMESTAMPTZ NOT NULL,
    polls BIGINT NOT NULL DEFAULT 0,
    changed BIGINT NOT NULL DEFAULT 0,
    imported BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    last_polled_at TIMESTAMPTZ NOT NULL
);
