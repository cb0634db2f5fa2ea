-- A sync run (Confluence tasks to Jira, an undo, a project mirror) and its journal: every
-- change it made to another system, before and after, so it can be explained and undone.
CREATE TABLE sync_runs (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    project_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    request TEXT NOT NULL,
    -- What the run found to do, fixed before its first write so a restart redoes nothing.
    plan TEXT,
    results TEXT,
    error TEXT,
    undone_by TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE INDEX sync_runs_project ON sync_runs (tenant_id, project_id, created_at);

CREATE TABLE sync_changes (
    run_id TEXT NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
    -- Names the step within the run: a step is journaled once.
    step TEXT NOT NULL,
    seq INTEGER NOT NULL,
    target TEXT NOT NULL,
    reference TEXT NOT NULL,
    action TEXT NOT NULL,
    before TEXT,
    after TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (run_id, step)
);
