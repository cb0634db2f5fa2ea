-- The request's comment on the task it was merged into (by intake or by a person), so a
-- merge can be undone (issue 21): the comment removed, the request its own task again.
ALTER TABLE messages ADD COLUMN comment_id TEXT COLLATE "C";
