-- Sorted task lists within a project walk an index instead of sorting every row.
CREATE INDEX tasks_project_due ON tasks (project_id, (COALESCE(due_date, '9999-12-31')), id);
CREATE INDEX tasks_project_priority ON tasks (project_id, (CASE priority WHEN 'low' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END), id);
CREATE INDEX tasks_project_updated ON tasks (project_id, updated_at, id);
-- Substring search (q=) uses trigram indexes; pg_trgm is a trusted extension (PostgreSQL 13+),
-- so the database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX tasks_title_trgm ON tasks USING gin (lower(title) gin_trgm_ops);
CREATE INDEX tasks_description_trgm ON tasks USING gin (lower(description) gin_trgm_ops);
