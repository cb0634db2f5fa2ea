-- Requesters hear back (issue 25): which changes of a task a project tells the people who
-- asked for it in a conversation, comma-separated (done, deleted, due_date, assigned, comment).
ALTER TABLE projects ADD COLUMN notify_requester_on TEXT NOT NULL DEFAULT 'done,deleted,comment';
