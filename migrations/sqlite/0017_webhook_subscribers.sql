-- Several outgoing webhooks per project (one per subscriber); every other type stays one
-- per (tenant, project, type). SQLite cannot drop a table constraint: the table is rebuilt
-- (nothing references it).
CREATE TABLE integrations_new (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    settings TEXT NOT NULL,
    secrets TEXT,
    secret_names TEXT NOT NULL,
    status TEXT NOT NULL,
    last_error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
INSERT INTO integrations_new (id, tenant_id, project_id, kind, name, settings, secrets, secret_names, status,
                              last_error, created_at, updated_at)
    SELECT id, tenant_id, project_id, kind, name, settings, secrets, secret_names, status, last_error, created_at,
           updated_at
    FROM integrations;
DROP TABLE integrations;
ALTER TABLE integrations_new RENAME TO integrations;
CREATE UNIQUE INDEX integrations_one_per_type ON integrations (tenant_id, project_id, kind) WHERE kind <> 'webhook';
CREATE INDEX integrations_project ON integrations (project_id, id);
