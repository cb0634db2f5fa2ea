-- The console's overview shows a tenant's tasks by status on every visit. Counting the rows
-- there grows with the tenant's tasks, so each project's count per status is kept in this
-- table instead, by triggers on `tasks`: every path that writes tasks (the task service,
-- intake, imports, Teams, cascades) keeps it exact, in the task's own transaction.
CREATE TABLE task_status_counts (
    tenant_id TEXT NOT NULL,
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    tasks INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, project_id, status)
) WITHOUT ROWID;

CREATE TRIGGER task_status_counts_insert AFTER INSERT ON tasks
BEGIN
    INSERT INTO task_status_counts (tenant_id, project_id, status, tasks)
    VALUES (NEW.tenant_id, NEW.project_id, NEW.status, 1)
    ON CONFLICT (tenant_id, project_id, status) DO UPDATE SET tasks = task_status_counts.tasks + 1;
END;

-- An update, never an insert: when the project itself is being deleted, its counts are
-- gone already and nothing may be written for it.
CREATE TRIGGER task_status_counts_delete AFTER DELETE ON tasks
BEGIN
    UPDATE task_status_counts SET tasks = tasks - 1
    WHERE tenant_id = OLD.tenant_id AND project_id = OLD.project_id AND status = OLD.status;
END;

CREATE TRIGGER task_status_counts_update AFTER UPDATE OF project_id, status ON tasks
WHEN OLD.project_id IS NOT NEW.project_id OR OLD.status IS NOT NEW.status
BEGIN
    UPDATE task_status_counts SET tasks = tasks - 1
    WHERE tenant_id = OLD.tenant_id AND project_id = OLD.project_id AND status = OLD.status;
    INSERT INTO task_status_counts (tenant_id, project_id, status, tasks)
    VALUES (NEW.tenant_id, NEW.project_id, NEW.status, 1)
    ON CONFLICT (tenant_id, project_id, status) DO UPDATE SET tasks = task_status_counts.tasks + 1;
END;

INSERT INTO task_status_counts (tenant_id, project_id, status, tasks)
SELECT tenant_id, project_id, status, COUNT(*) FROM tasks GROUP BY tenant_id, project_id, status;
