-- Each workspace analysis, kept so its suggested follow-ups can be listed later.
CREATE TABLE ai_analyses (
    id TEXT COLLATE "C" PRIMARY KEY,
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    project_id TEXT COLLATE "C",
    result TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX ai_analyses_latest ON ai_analyses (tenant_id, created_at);
