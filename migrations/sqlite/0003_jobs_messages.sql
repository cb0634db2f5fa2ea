-- The durable queue: every side effect runs as a job that survives a crash.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    run_at TEXT NOT NULL,
    lease_token TEXT,
    locked_until TEXT,
    last_error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX jobs_runnable ON jobs (status, run_at);
CREATE INDEX jobs_tenant ON jobs (tenant_id, status, id);

-- Requests from conversations, and what intake made of them.
CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    text TEXT NOT NULL,
    author TEXT,
    source TEXT NOT NULL,
    channel TEXT,
    thread_ref TEXT,
    received_at TEXT NOT NULL,
    status TEXT NOT NULL,
    task_id TEXT,
    score REAL,
    error TEXT,
    draft TEXT,
    candidates TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX messages_tenant ON messages (tenant_id, id);
CREATE INDEX messages_project ON messages (project_id, id);
