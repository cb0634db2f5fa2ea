-- Conversations with the coordinator, and the actions it proposes: nothing it proposes
-- changes anything until a person approves it (or a project's policy does, for reminders).
CREATE TABLE ai_conversations (
    id TEXT COLLATE "C" PRIMARY KEY,
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    started_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE ai_turns (
    id TEXT COLLATE "C" PRIMARY KEY,
    conversation_id TEXT COLLATE "C" NOT NULL REFERENCES ai_conversations (id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    cited_task_ids TEXT NOT NULL,
    action_ids TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX ai_turns_by_conversation ON ai_turns (conversation_id, created_at);
CREATE TABLE ai_actions (
    id TEXT COLLATE "C" PRIMARY KEY,
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    conversation_id TEXT COLLATE "C" REFERENCES ai_conversations (id) ON DELETE SET NULL,
    kind TEXT NOT NULL,
    params TEXT NOT NULL,
    status TEXT NOT NULL,
    proposed_by TEXT NOT NULL,
    decided_by TEXT,
    decided_at TIMESTAMPTZ,
    result TEXT,
    error TEXT,
    dedupe_key TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    UNIQUE (tenant_id, dedupe_key)
);
CREATE INDEX ai_actions_by_status ON ai_actions (tenant_id, status, id);

-- A project may let the coordinator send reminders about overdue and stale tasks itself.
ALTER TABLE projects ADD COLUMN auto_follow_ups BOOLEAN NOT NULL DEFAULT FALSE;

-- Follow-ups answer in the conversation a task's request came from.
CREATE INDEX messages_by_task ON messages (tenant_id, task_id);
