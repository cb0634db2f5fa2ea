-- The task a tracker run (push, transition, their undo) acted for: a task's runs are found
-- by it, to explain or undo them.
ALTER TABLE sync_runs ADD COLUMN task_id TEXT;
UPDATE sync_runs SET task_id = json_extract(request, '$.task_id') WHERE kind = 'tracker-push';
CREATE INDEX sync_runs_task ON sync_runs (tenant_id, task_id, created_at);
