-- MySQL 8 / MariaDB 10.6+: the schema PostgreSQL has after its migration 0034, in one file.
-- Later migrations each have a file of their own here, as in the other two trees.
--
-- MySQL commits DDL as it goes, so this file must be safe to run again after a failure
-- part-way: every table is `CREATE TABLE IF NOT EXISTS` with its indexes inside it, and
-- triggers are dropped before they are created.
--
-- Types: ids and other keyed text are VARCHAR (an index needs a bounded length; 64 holds a
-- UUID or a SHA-256 in hex), free text is LONGTEXT, timestamps DATETIME(6) in UTC (the
-- connection's time zone is +00:00).
--
-- Collation: `utf8mb4_unicode_ci`, not the byte-wise `utf8mb4_bin` that would match
-- PostgreSQL's `COLLATE "C"` and SQLite: a binary collation marks its columns BINARY, and
-- sqlx 0.8 then refuses to read them as text. Ids are generated in one case, so they are
-- unaffected; the unique keys over text that platforms or people choose (idempotency keys,
-- external ids, label names, dedupe keys) are kept byte-wise through a stored binary copy
-- of the column (`*_bytes`). What is left case-insensitive is noted in docs/mariadb.md.
--
-- Differences from PostgreSQL, with why:
-- - `integrations_one_per_type` is PostgreSQL's partial unique index (`WHERE kind <>
--   'webhook'`): here a stored column holds the kind for all but webhooks, NULL for them,
--   and a unique key over it lets NULLs repeat.
-- - No trigram indexes (`tasks_*_trgm`): duplicate search reads a project's candidates by
--   its other indexes, as on SQLite.
-- - `tasks_project_due` and `tasks_project_priority` index the plain columns (MariaDB has
--   no index on an expression); the sort still uses the index's leading project_id.
-- - `task_status_counts` is kept by ordinary (not deferred) triggers. MySQL does not run
--   triggers for rows a foreign key cascade deletes: a deleted project's counts go by their
--   own cascade, and tasks are never deleted by a cascade from anything but their project.

CREATE TABLE IF NOT EXISTS tenants (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    name LONGTEXT NOT NULL,
    created_at DATETIME(6) NOT NULL,
    default_project_id VARCHAR(64)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS projects (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(64) NOT NULL,
    name LONGTEXT NOT NULL,
    description LONGTEXT NOT NULL DEFAULT (''),
    status VARCHAR(32) NOT NULL,
    deadline DATE,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    auto_follow_ups BOOLEAN NOT NULL DEFAULT FALSE,
    intake_seq BIGINT NOT NULL DEFAULT 0,
    duplicate_merge_at DOUBLE,
    duplicate_suggest_at DOUBLE,
    intake_mode VARCHAR(32) NOT NULL DEFAULT 'auto',
    notify_requester_on VARCHAR(255) NOT NULL DEFAULT 'done,deleted,comment',
    KEY projects_tenant (tenant_id, id),
    CONSTRAINT projects_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS api_keys (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(64) NOT NULL,
    name LONGTEXT NOT NULL,
    role VARCHAR(32) NOT NULL,
    key_hash VARCHAR(128) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    UNIQUE KEY api_keys_key_hash_key (key_hash),
    KEY api_keys_tenant (tenant_id, id),
    CONSTRAINT api_keys_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS tasks (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(64) NOT NULL,
    project_id VARCHAR(64) NOT NULL,
    title LONGTEXT NOT NULL,
    description LONGTEXT NOT NULL DEFAULT (''),
    status VARCHAR(32) NOT NULL,
    priority VARCHAR(32) NOT NULL,
    assigned_to VARCHAR(255),
    time_estimate BIGINT,
    time_spent BIGINT NOT NULL DEFAULT 0,
    due_date DATE,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    KEY tasks_assignee (tenant_id, assigned_to, id),
    KEY tasks_due (tenant_id, due_date, id),
    KEY tasks_project (project_id, id),
    KEY tasks_project_due (project_id, due_date, id),
    KEY tasks_project_priority (project_id, priority, id),
    KEY tasks_project_status (project_id, status, id),
    KEY tasks_project_updated (project_id, updated_at, id),
    KEY tasks_tenant (tenant_id, id),
    KEY tasks_tenant_status (tenant_id, status),
    CONSTRAINT tasks_project_id_fkey FOREIGN KEY (project_id) REFERENCES projects (id) ON DELETE CASCADE,
    CONSTRAINT tasks_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS comments (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(64) NOT NULL,
    task_id VARCHAR(64) NOT NULL,
    content LONGTEXT NOT NULL,
    author LONGTEXT,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    KEY comments_task (task_id, id),
    KEY comments_tenant (tenant_id, id),
    CONSTRAINT comments_task_id_fkey FOREIGN KEY (task_id) REFERENCES tasks (id) ON DELETE CASCADE,
    CONSTRAINT comments_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS console_sessions (
    token_hash VARCHAR(128) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(64) NOT NULL,
    key_id VARCHAR(64) NOT NULL,
    csrf_token LONGTEXT NOT NULL,
    created_at DATETIME(6) NOT NULL,
    last_seen_at DATETIME(6) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    KEY console_sessions_expiry (expires_at),
    KEY console_sessions_key (key_id),
    CONSTRAINT console_sessions_key_id_fkey FOREIGN KEY (key_id) REFERENCES api_keys (id) ON DELETE CASCADE,
    CONSTRAINT console_sessions_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS integrations (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(64) NOT NULL,
    project_id VARCHAR(64) NOT NULL,
    kind VARCHAR(64) NOT NULL,
    name LONGTEXT NOT NULL,
    settings LONGTEXT NOT NULL,
    secrets LONGTEXT,
    secret_names LONGTEXT NOT NULL,
    status VARCHAR(32) NOT NULL,
    last_error LONGTEXT,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    one_per_type_kind VARCHAR(64) AS (CASE WHEN kind <> 'webhook' THEN kind END) STORED,
    UNIQUE KEY integrations_one_per_type (tenant_id, project_id, one_per_type_kind),
    KEY integrations_project (project_id, id),
    CONSTRAINT integrations_project_id_fkey FOREIGN KEY (project_id) REFERENCES projects (id) ON DELETE CASCADE,
    CONSTRAINT integrations_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS deliveries (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(64) NOT NULL,
    project_id VARCHAR(64) NOT NULL,
    integration_id VARCHAR(64) NOT NULL,
    platform VARCHAR(64) NOT NULL,
    message_id VARCHAR(64),
    recipient LONGTEXT NOT NULL,
    subject LONGTEXT,
    text LONGTEXT NOT NULL,
    target LONGTEXT NOT NULL,
    status VARCHAR(32) NOT NULL,
    error LONGTEXT,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    answer VARCHAR(255) NOT NULL DEFAULT 'outcome',
    UNIQUE KEY deliveries_answer (message_id, answer),
    KEY deliveries_tenant (tenant_id, id),
    CONSTRAINT deliveries_project_id_fkey FOREIGN KEY (project_id) REFERENCES projects (id) ON DELETE CASCADE,
    CONSTRAINT deliveries_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS jobs (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(64) NOT NULL,
    kind VARCHAR(64) NOT NULL,
    payload LONGTEXT NOT NULL,
    idempotency_key VARCHAR(512) NOT NULL,
    status VARCHAR(32) NOT NULL,
    attempts INT NOT NULL DEFAULT 0,
    max_attempts INT NOT NULL,
    run_at DATETIME(6) NOT NULL,
    lease_token VARCHAR(64),
    locked_until DATETIME(6),
    last_error LONGTEXT,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    lane VARCHAR(32) NOT NULL DEFAULT 'work',
    idempotency_key_bytes VARBINARY(2048) AS (CAST(idempotency_key AS BINARY)) STORED,
    -- From when a job may be claimed: due (queued, failed) or its lease over (running);
    -- NULL once settled. Its index hands a claim the next job in order, so that `LIMIT 1
    -- FOR UPDATE SKIP LOCKED` locks that one row: over (lane, status, run_at) MySQL would
    -- lock every runnable row while sorting them, and claims would queue behind each other.
    claim_at DATETIME(6) AS (CASE WHEN status IN ('queued', 'failed') THEN run_at
                                  WHEN status = 'running' THEN locked_until END) STORED,
    UNIQUE KEY jobs_idempotency_key_key (idempotency_key_bytes),
    KEY jobs_lane_claimable (lane, claim_at),
    KEY jobs_lane_runnable (lane, status, run_at),
    KEY jobs_runnable (status, run_at),
    KEY jobs_tenant (tenant_id, status, id),
    CONSTRAINT jobs_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS labels (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(64) NOT NULL,
    project_id VARCHAR(64) NOT NULL,
    name VARCHAR(255) NOT NULL,
    color VARCHAR(32) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    name_bytes VARBINARY(1020) AS (CAST(name AS BINARY)) STORED,
    UNIQUE KEY labels_project_id_name_key (project_id, name_bytes),
    KEY labels_tenant (tenant_id, id),
    CONSTRAINT labels_project_id_fkey FOREIGN KEY (project_id) REFERENCES projects (id) ON DELETE CASCADE,
    CONSTRAINT labels_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS mailbox_leases (
    integration_id VARCHAR(64) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(64) NOT NULL,
    holder VARCHAR(255) NOT NULL,
    held_until DATETIME(6) NOT NULL,
    CONSTRAINT mailbox_leases_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS mailbox_polls (
    integration_id VARCHAR(64) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(64) NOT NULL,
    uid_validity BIGINT NOT NULL,
    last_uid BIGINT NOT NULL,
    polls BIGINT NOT NULL DEFAULT 0,
    taken BIGINT NOT NULL DEFAULT 0,
    last_error LONGTEXT,
    last_polled_at DATETIME(6) NOT NULL,
    mode VARCHAR(32) NOT NULL DEFAULT 'poll',
    last_success_at DATETIME(6),
    last_error_at DATETIME(6),
    CONSTRAINT mailbox_polls_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS messages (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(64) NOT NULL,
    project_id VARCHAR(64) NOT NULL,
    text LONGTEXT NOT NULL,
    author LONGTEXT,
    source VARCHAR(64) NOT NULL,
    channel LONGTEXT,
    thread_ref VARCHAR(512),
    received_at DATETIME(6) NOT NULL,
    status VARCHAR(32) NOT NULL,
    task_id VARCHAR(64),
    score DOUBLE,
    error LONGTEXT,
    draft LONGTEXT,
    candidates LONGTEXT,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    integration_id VARCHAR(64),
    external_id VARCHAR(512),
    reply_to LONGTEXT,
    decision_id VARCHAR(64),
    comment_id VARCHAR(64),
    text_key VARCHAR(64),
    external_id_bytes VARBINARY(2048) AS (CAST(external_id AS BINARY)) STORED,
    UNIQUE KEY messages_external (integration_id, external_id_bytes),
    KEY messages_by_task (tenant_id, task_id),
    KEY messages_project (project_id, id),
    KEY messages_project_source (project_id, source, id),
    KEY messages_project_status (project_id, status, id),
    KEY messages_tenant (tenant_id, id),
    KEY messages_tenant_received (tenant_id, received_at),
    KEY messages_tenant_source (tenant_id, source, id),
    KEY messages_tenant_status (tenant_id, status, id),
    KEY messages_text_key (project_id, text_key),
    KEY messages_thread (integration_id, thread_ref, received_at),
    CONSTRAINT messages_project_id_fkey FOREIGN KEY (project_id) REFERENCES projects (id) ON DELETE CASCADE,
    CONSTRAINT messages_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS message_decisions (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(64) NOT NULL,
    message_id VARCHAR(64) NOT NULL,
    action VARCHAR(32) NOT NULL,
    task_id VARCHAR(64),
    closed_task_id VARCHAR(64),
    comment_id VARCHAR(64),
    reason LONGTEXT,
    decided_by_key_id VARCHAR(64) NOT NULL,
    decided_by LONGTEXT NOT NULL,
    decided_at DATETIME(6) NOT NULL,
    KEY message_decisions_message (message_id, id),
    CONSTRAINT message_decisions_message_id_fkey FOREIGN KEY (message_id) REFERENCES messages (id) ON DELETE CASCADE,
    CONSTRAINT message_decisions_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS oauth_states (
    state_hash VARCHAR(128) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(64) NOT NULL,
    project_id VARCHAR(64) NOT NULL,
    key_id VARCHAR(64) NOT NULL,
    provider VARCHAR(64) NOT NULL,
    verifier LONGTEXT,
    extra LONGTEXT NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    KEY oauth_states_expiry (expires_at),
    CONSTRAINT oauth_states_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS sync_runs (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(64) NOT NULL,
    project_id VARCHAR(64) NOT NULL,
    kind VARCHAR(64) NOT NULL,
    status VARCHAR(32) NOT NULL,
    request LONGTEXT NOT NULL,
    plan LONGTEXT,
    results LONGTEXT,
    error LONGTEXT,
    undone_by VARCHAR(64),
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    finished_at DATETIME(6),
    task_id VARCHAR(64),
    result_counts LONGTEXT,
    KEY sync_runs_project (tenant_id, project_id, created_at),
    KEY sync_runs_task (tenant_id, task_id, created_at),
    CONSTRAINT sync_runs_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS sync_changes (
    run_id VARCHAR(64) NOT NULL,
    step VARCHAR(255) NOT NULL,
    seq BIGINT NOT NULL,
    target LONGTEXT NOT NULL,
    reference LONGTEXT NOT NULL,
    action VARCHAR(64) NOT NULL,
    `before` LONGTEXT,
    `after` LONGTEXT,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (run_id, step),
    KEY sync_changes_in_order (run_id, seq, step),
    CONSTRAINT sync_changes_run_id_fkey FOREIGN KEY (run_id) REFERENCES sync_runs (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS task_labels (
    task_id VARCHAR(64) NOT NULL,
    label_id VARCHAR(64) NOT NULL,
    PRIMARY KEY (task_id, label_id),
    KEY task_labels_label (label_id, task_id),
    CONSTRAINT task_labels_label_id_fkey FOREIGN KEY (label_id) REFERENCES labels (id) ON DELETE CASCADE,
    CONSTRAINT task_labels_task_id_fkey FOREIGN KEY (task_id) REFERENCES tasks (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS task_links (
    tenant_id VARCHAR(64) NOT NULL,
    task_id VARCHAR(64) NOT NULL,
    integration_id VARCHAR(64) NOT NULL,
    tracker VARCHAR(64) NOT NULL,
    external_id VARCHAR(512) NOT NULL,
    external_ref LONGTEXT,
    url LONGTEXT,
    created_at DATETIME(6) NOT NULL,
    sync_run_id VARCHAR(64),
    external_id_bytes VARBINARY(2048) AS (CAST(external_id AS BINARY)) STORED,
    PRIMARY KEY (task_id, integration_id),
    UNIQUE KEY task_links_item (integration_id, external_id_bytes),
    CONSTRAINT task_links_task_id_fkey FOREIGN KEY (task_id) REFERENCES tasks (id) ON DELETE CASCADE,
    CONSTRAINT task_links_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- The console's overview reads each project's tasks per status from here; the triggers
-- below keep it exact in the task's own transaction. Each count is spread over 8 slots (by
-- the task's id) so that busy writers of one project and status do not queue on one row.
CREATE TABLE IF NOT EXISTS task_status_counts (
    tenant_id VARCHAR(64) NOT NULL,
    project_id VARCHAR(64) NOT NULL,
    status VARCHAR(32) NOT NULL,
    slot SMALLINT NOT NULL,
    tasks BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, project_id, status, slot),
    CONSTRAINT task_status_counts_project_id_fkey FOREIGN KEY (project_id) REFERENCES projects (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS teams (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(64) NOT NULL,
    name LONGTEXT NOT NULL,
    description LONGTEXT NOT NULL DEFAULT (''),
    channels LONGTEXT NOT NULL,
    created_at DATETIME(6) NOT NULL,
    KEY teams_tenant (tenant_id, id),
    CONSTRAINT teams_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS task_teams (
    task_id VARCHAR(64) NOT NULL PRIMARY KEY,
    team_id VARCHAR(64) NOT NULL,
    CONSTRAINT task_teams_task_id_fkey FOREIGN KEY (task_id) REFERENCES tasks (id) ON DELETE CASCADE,
    CONSTRAINT task_teams_team_id_fkey FOREIGN KEY (team_id) REFERENCES teams (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS task_vectors (
    task_id VARCHAR(64) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(64) NOT NULL,
    model VARCHAR(255) NOT NULL,
    text_key VARCHAR(64) NOT NULL,
    vector LONGBLOB NOT NULL,
    CONSTRAINT task_vectors_task_id_fkey FOREIGN KEY (task_id) REFERENCES tasks (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS tracker_imports (
    integration_id VARCHAR(64) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(64) NOT NULL,
    status VARCHAR(32) NOT NULL,
    imported BIGINT NOT NULL DEFAULT 0,
    skipped BIGINT NOT NULL DEFAULT 0,
    pages BIGINT NOT NULL DEFAULT 0,
    error LONGTEXT,
    started_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    finished_at DATETIME(6),
    CONSTRAINT tracker_imports_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS tracker_polls (
    integration_id VARCHAR(64) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(64) NOT NULL,
    `cursor` DATETIME(6) NOT NULL,
    polls BIGINT NOT NULL DEFAULT 0,
    changed BIGINT NOT NULL DEFAULT 0,
    imported BIGINT NOT NULL DEFAULT 0,
    last_error LONGTEXT,
    last_polled_at DATETIME(6) NOT NULL,
    CONSTRAINT tracker_polls_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS ai_conversations (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(64) NOT NULL,
    started_by LONGTEXT NOT NULL,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    CONSTRAINT ai_conversations_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS ai_actions (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(64) NOT NULL,
    conversation_id VARCHAR(64),
    kind VARCHAR(64) NOT NULL,
    params LONGTEXT NOT NULL,
    status VARCHAR(32) NOT NULL,
    proposed_by LONGTEXT NOT NULL,
    decided_by LONGTEXT,
    decided_at DATETIME(6),
    result LONGTEXT,
    error LONGTEXT,
    dedupe_key VARCHAR(512),
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    dedupe_key_bytes VARBINARY(2048) AS (CAST(dedupe_key AS BINARY)) STORED,
    UNIQUE KEY ai_actions_tenant_id_dedupe_key_key (tenant_id, dedupe_key_bytes),
    KEY ai_actions_by_status (tenant_id, status, id),
    CONSTRAINT ai_actions_conversation_id_fkey FOREIGN KEY (conversation_id) REFERENCES ai_conversations (id) ON DELETE SET NULL,
    CONSTRAINT ai_actions_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS ai_analyses (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(64) NOT NULL,
    project_id VARCHAR(64),
    result LONGTEXT NOT NULL,
    created_at DATETIME(6) NOT NULL,
    KEY ai_analyses_latest (tenant_id, created_at),
    CONSTRAINT ai_analyses_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS ai_turns (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    conversation_id VARCHAR(64) NOT NULL,
    role VARCHAR(32) NOT NULL,
    content LONGTEXT NOT NULL,
    cited_task_ids LONGTEXT NOT NULL,
    action_ids LONGTEXT NOT NULL,
    created_at DATETIME(6) NOT NULL,
    KEY ai_turns_by_conversation (conversation_id, created_at),
    CONSTRAINT ai_turns_conversation_id_fkey FOREIGN KEY (conversation_id) REFERENCES ai_conversations (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

DROP TRIGGER IF EXISTS task_status_counts_insert;
CREATE TRIGGER task_status_counts_insert AFTER INSERT ON tasks FOR EACH ROW
    INSERT INTO task_status_counts (tenant_id, project_id, status, slot, tasks)
    VALUES (NEW.tenant_id, NEW.project_id, NEW.status, CRC32(NEW.id) & 7, 1)
    ON DUPLICATE KEY UPDATE tasks = tasks + 1;

-- An update, never an insert: nothing may be written for a project being deleted.
DROP TRIGGER IF EXISTS task_status_counts_delete;
CREATE TRIGGER task_status_counts_delete AFTER DELETE ON tasks FOR EACH ROW
    UPDATE task_status_counts SET tasks = tasks - 1
    WHERE tenant_id = OLD.tenant_id AND project_id = OLD.project_id AND status = OLD.status
      AND slot = CRC32(OLD.id) & 7;

-- The two rows (of one slot) are always written in the same order, project then status,
-- so two moves in opposite directions cannot deadlock.
DROP TRIGGER IF EXISTS task_status_counts_update;
CREATE TRIGGER task_status_counts_update AFTER UPDATE ON tasks FOR EACH ROW
BEGIN
    IF NOT (OLD.project_id <=> NEW.project_id) OR NOT (OLD.status <=> NEW.status) THEN
        IF (OLD.project_id, OLD.status) < (NEW.project_id, NEW.status) THEN
            UPDATE task_status_counts SET tasks = tasks - 1
            WHERE tenant_id = OLD.tenant_id AND project_id = OLD.project_id AND status = OLD.status
              AND slot = CRC32(OLD.id) & 7;
            INSERT INTO task_status_counts (tenant_id, project_id, status, slot, tasks)
            VALUES (NEW.tenant_id, NEW.project_id, NEW.status, CRC32(NEW.id) & 7, 1)
            ON DUPLICATE KEY UPDATE tasks = tasks + 1;
        ELSE
            INSERT INTO task_status_counts (tenant_id, project_id, status, slot, tasks)
            VALUES (NEW.tenant_id, NEW.project_id, NEW.status, CRC32(NEW.id) & 7, 1)
            ON DUPLICATE KEY UPDATE tasks = tasks + 1;
            UPDATE task_status_counts SET tasks = tasks - 1
            WHERE tenant_id = OLD.tenant_id AND project_id = OLD.project_id AND status = OLD.status
              AND slot = CRC32(OLD.id) & 7;
        END IF;
    END IF;
END;
