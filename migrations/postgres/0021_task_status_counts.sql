-- The console's overview shows a tenant's tasks by status on every visit. Counting the rows
-- there grows with the tenant's tasks (34 ms at 100,000 before a VACUUM), so each project's
-- count per status is kept in this table instead, by triggers on `tasks`: every path that
-- writes tasks (the task service, intake, imports, Teams, cascades) keeps it exact, in the
-- task's own transaction. The overview sums a few rows per project.
--
-- Each count is split over 8 slots (a task always counts in the slot of its id's hash), so
-- concurrent creates in one project rarely wait for the same row: one row per status made
-- 32 concurrent creates in one project about half as fast, 8 slots cost much less (see
-- docs/benchmarks.md).
CREATE TABLE task_status_counts (
    tenant_id TEXT COLLATE "C" NOT NULL,
    project_id TEXT COLLATE "C" NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    status TEXT COLLATE "C" NOT NULL,
    slot SMALLINT NOT NULL,
    tasks BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, project_id, status, slot)
);

CREATE FUNCTION task_status_counts_add(tenant TEXT, project TEXT, state TEXT, task TEXT, n BIGINT)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO task_status_counts (tenant_id, project_id, status, slot, tasks)
    VALUES (tenant, project, state, hashtext(task) & 7, n)
    ON CONFLICT (tenant_id, project_id, status, slot) DO UPDATE SET tasks = task_status_counts.tasks + n;
$$;

CREATE FUNCTION task_status_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM task_status_counts_add(NEW.tenant_id, NEW.project_id, NEW.status, NEW.id, 1);
    ELSIF TG_OP = 'DELETE' THEN
        -- An update, never an insert: when the project itself is being deleted, its
        -- counts are gone already and nothing may be written for it.
        UPDATE task_status_counts SET tasks = tasks - 1
        WHERE tenant_id = OLD.tenant_id AND project_id = OLD.project_id AND status = OLD.status
          AND slot = hashtext(OLD.id) & 7;
    ELSIF (OLD.project_id, OLD.status) < (NEW.project_id, NEW.status) THEN
        -- The two rows (of one slot) are always locked in the same order, project then
        -- status, so two moves in opposite directions cannot deadlock.
        PERFORM task_status_counts_add(OLD.tenant_id, OLD.project_id, OLD.status, OLD.id, -1);
        PERFORM task_status_counts_add(NEW.tenant_id, NEW.project_id, NEW.status, NEW.id, 1);
    ELSE
        PERFORM task_status_counts_add(NEW.tenant_id, NEW.project_id, NEW.status, NEW.id, 1);
        PERFORM task_status_counts_add(OLD.tenant_id, OLD.project_id, OLD.status, OLD.id, -1);
    END IF;
    RETURN NULL;
END
$$;

-- Deferred to the commit: a count's row is then locked only while the transaction commits,
-- not for the rest of it (measured: about 1.5 times the creates per second of an immediate
-- trigger).
CREATE CONSTRAINT TRIGGER task_status_counts_rows AFTER INSERT OR DELETE ON tasks
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION task_status_counts_apply();
CREATE CONSTRAINT TRIGGER task_status_counts_moves AFTER UPDATE OF project_id, status ON tasks
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.project_id IS DISTINCT FROM NEW.project_id OR OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION task_status_counts_apply();

-- The triggers above hold a lock on `tasks` until this migration commits, so no write can
-- slip between them and this first count.
INSERT INTO task_status_counts (tenant_id, project_id, status, slot, tasks)
SELECT tenant_id, project_id, status, hashtext(id) & 7, COUNT(*) FROM tasks
GROUP BY tenant_id, project_id, status, hashtext(id) & 7;
