-- Each workspace analysis, kept so its suggested follow-ups can be listed later.
CREATE TABLE ai_analyses (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    project_id TEXT,
    result TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX ai_analyses_latest ON ai_analyses (tenant_id, created_at);
