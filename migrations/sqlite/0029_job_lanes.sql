-- Worker pools by lane: a request's processing and its answer never wait behind tracker,
-- sync and delivery work. Each pool claims from its own lane through its own index.
ALTER TABLE jobs ADD COLUMN lane TEXT NOT NULL DEFAULT 'work';
UPDATE jobs SET lane = 'intake' WHERE kind IN ('channel.fetch', 'channel.reply') OR kind LIKE 'intake.%';
CREATE INDEX jobs_lane_runnable ON jobs (lane, status, run_at);

-- A request said again word for word is recognised by its text's digest: its earlier
-- draft stands in for a model call when deciding whether it is a duplicate.
ALTER TABLE messages ADD COLUMN text_key TEXT;
CREATE INDEX messages_text_key ON messages (project_id, text_key);
