-- Messages that came through a platform's webhook: which integration, the platform's own id
-- (platforms retry: one request, one message), and where the answer goes.
ALTER TABLE messages ADD COLUMN integration_id TEXT;
ALTER TABLE messages ADD COLUMN external_id TEXT;
ALTER TABLE messages ADD COLUMN reply_to TEXT;
CREATE UNIQUE INDEX messages_external ON messages (integration_id, external_id);
