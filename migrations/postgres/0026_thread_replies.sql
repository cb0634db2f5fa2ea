-- Issue 21 item 4: a reply in a request's conversation ("same") finds the request it
-- answers by integration and thread (compared byte-wise, so a chat's prefix is a range).
CREATE INDEX messages_thread ON messages (integration_id, (thread_ref COLLATE "C"), received_at);

