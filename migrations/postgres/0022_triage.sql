-- Triage (issue 21): a project may have a person decide each request; every decision is
-- journaled with who made it, and answered in the requester's thread.
ALTER TABLE projects ADD COLUMN intake_mode TEXT NOT NULL DEFAULT 'auto';

CREATE TABLE message_decisions (
    id TEXT COLLATE "C" PRIMARY KEY,
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    message_id TEXT COLLATE "C" NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    -- accept | merge | decline
    action TEXT NOT NULL,
    -- The task made (accept) or merged into (merge).
    task_id TEXT COLLATE "C",
    -- A possible duplicate merged later: the task made for it, closed by the merge.
    closed_task_id TEXT COLLATE "C",
    -- The request's comment on the task merged into.
    comment_id TEXT COLLATE "C",
    reason TEXT,
    decided_by_key_id TEXT COLLATE "C" NOT NULL,
    decided_by TEXT NOT NULL,
    decided_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX message_decisions_message ON message_decisions (message_id, id);

-- The message's current decision.
ALTER TABLE messages ADD COLUMN decision_id TEXT COLLATE "C";
-- The triage queue: a tenant's messages by status, newest first.
CREATE INDEX messages_tenant_status ON messages (tenant_id, status, id);

-- A request may be answered more than once (its outcome, then a person's decision): one
-- delivery per request and answer instead of one per request.
ALTER TABLE deliveries ADD COLUMN answer TEXT NOT NULL DEFAULT 'outcome';
ALTER TABLE deliveries DROP CONSTRAINT deliveries_message_id_key;
CREATE UNIQUE INDEX deliveries_answer ON deliveries (message_id, answer);
