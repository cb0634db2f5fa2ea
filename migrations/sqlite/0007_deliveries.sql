-- Messages taskbridge sends into conversations: answers to requests and messages sent on
-- request (`/integrations/{platform}/send`). Kept after the integration is gone: history.
CREATE TABLE deliveries (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    integration_id TEXT NOT NULL,
    platform TEXT NOT NULL,
    -- The request this answers; one answer per request.
    message_id TEXT UNIQUE,
    recipient TEXT NOT NULL,
    subject TEXT,
    text TEXT NOT NULL,
    -- Where it goes, in the adapter's own terms.
    target TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX deliveries_tenant ON deliveries (tenant_id, id);
