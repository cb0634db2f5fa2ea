-- Where a task lives in a connected tracker (a Taiga task or user story, a Jira issue…):
-- one item per task and integration, so a push that is retried links instead of creating.
CREATE TABLE task_links (
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    task_id TEXT COLLATE "C" NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    integration_id TEXT COLLATE "C" NOT NULL,
    tracker TEXT NOT NULL,
    external_id TEXT NOT NULL,
    external_ref TEXT,
    url TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (task_id, integration_id)
);
CREATE INDEX task_links_external ON task_links (integration_id, external_id);
