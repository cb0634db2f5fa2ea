-- Triage (issue 21): a project may have a person decide each request; every decision is
-- journaled with who made it, and answered in the requester's thread.
ALTER TABLE projects ADD COLUMN intake_mode TEXT NOT NULL DEFAULT 'auto';

CREATE TABLE message_decisions (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    -- accept | merge | decline
    action TEXT NOT NULL,
    -- The task made (accept) or merged into (merge).
    task_id TEXT,
    -- A possible duplicate merged later: the task made for it, closed by the merge.
    closed_task_id TEXT,
    -- The request's comment on the task merged into.
    comment_id TEXT,
    reason TEXT,
    decided_by_key_id TEXT NOT NULL,
    decided_by TEXT NOT NULL,
    decided_at TEXT NOT NULL
);
CREATE INDEX message_decisions_message ON message_decisions (message_id, id);

-- The message's current decision.
ALTER TABLE messages ADD COLUMN decision_id TEXT;
-- The triage queue: a tenant's messages by status, newest first.
CREATE INDEX messages_tenant_status ON messages (tenant_id, status, id);

-- A request may be answered more than once (its outcome, then a person's decision): one
-- delivery per request and answer instead of one per request. SQLite cannot drop a
-- column's UNIQUE, so the table is rebuilt (nothing references it).
CREATE TABLE deliveries_new (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    integration_id TEXT NOT NULL,
    platform TEXT NOT NULL,
    -- The request this answers, and which answer: `outcome` (intake's) or a decision's id.
    message_id TEXT,
    answer TEXT NOT NULL DEFAULT 'outcome',
    recipient TEXT NOT NULL,
    subject TEXT,
    text TEXT NOT NULL,
    target TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
INSERT INTO deliveries_new (id, tenant_id, project_id, integration_id, platform, message_id, recipient, subject,
                            text, target, status, error, created_at, updated_at)
SELECT id, tenant_id, project_id, integration_id, platform, message_id, recipient, subject,
       text, target, status, error, created_at, updated_at FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_new RENAME TO deliveries;
CREATE INDEX deliveries_tenant ON deliveries (tenant_id, id);
CREATE UNIQUE INDEX deliveries_answer ON deliveries (message_id, answer);
