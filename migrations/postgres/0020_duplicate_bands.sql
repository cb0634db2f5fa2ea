-- A project's own duplicate bands (issue 21): both set, or both NULL for the service's defaults.
ALTER TABLE projects ADD COLUMN duplicate_merge_at DOUBLE PRECISION;
ALTER TABLE projects ADD COLUMN duplicate_suggest_at DOUBLE PRECISION;
