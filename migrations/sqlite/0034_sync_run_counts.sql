-- Each finished run's results counted by verdict (Success, Failed, Skipped), written with
-- the results: the console's list of runs shows the counts without reading the results.
-- Runs finished before this have none; the list counts their results instead.
ALTER TABLE sync_runs ADD COLUMN result_counts TEXT;

-- A run's page reads its journal a page at a time, in the order it was written.
CREATE INDEX sync_changes_in_order ON sync_changes (run_id, seq, step);
