-- Sorted task lists within a project walk an index instead of sorting every row.
CREATE INDEX tasks_project_due ON tasks (project_id, COALESCE(due_date, '9999-12-31'), id);
CREATE INDEX tasks_project_priority ON tasks (project_id, (CASE priority WHEN 'low' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END), id);
CREATE INDEX tasks_project_updated ON tasks (project_id, updated_at, id);
