-- Issue 21 item 4: a reply in a request's conversation ("same") finds the request it
-- answers by integration and thread.
CREATE INDEX messages_thread ON messages (integration_id, thread_ref, received_at);

