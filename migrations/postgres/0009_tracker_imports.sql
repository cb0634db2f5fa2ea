-- One tracker item is linked to at most one task: imports and pushes cannot double it.
DROP INDEX task_links_external;
CREATE UNIQUE INDEX task_links_item ON task_links (integration_id, external_id);

-- The backfill of a tracker's existing items into the project, and how far it got.
CREATE TABLE tracker_imports (
    integration_id TEXT COLLATE "C" PRIMARY KEY,
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    imported BIGINT NOT NULL DEFAULT 0,
    skipped BIGINT NOT NULL DEFAULT 0,
    pages BIGINT NOT NULL DEFAULT 0,
    error TEXT,
    started_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ
);
