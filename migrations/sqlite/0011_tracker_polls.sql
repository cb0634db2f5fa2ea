-- Polling a tracker for changes: where the next poll starts and how the last ones went.
CREATE TABLE tracker_polls (
    integration_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- Changes at or after this time may not have been seen yet.
    cursor TEXT NOT NULL,
    polls INTEGER NOT NULL DEFAULT 0,
    changed INTEGER NOT NULL DEFAULT 0,
    imported INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    last_polled_at TEXT NOT NULL
);
