-- The sync run that journaled a push (none for imported items): explains it, undoes it.
ALTER TABLE task_links ADD COLUMN sync_run_id TEXT;
