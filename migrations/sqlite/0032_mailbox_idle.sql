-- IMAP IDLE (RFC 2177) beside polling: how a mailbox was last read, when it last went
-- well or badly, and which reader holds it, so that one reader at a time (an instance's
-- IDLE watcher or a poll job) talks to a mailbox whatever the number of instances.
ALTER TABLE mailbox_polls ADD COLUMN mode TEXT NOT NULL DEFAULT 'poll';
ALTER TABLE mailbox_polls ADD COLUMN last_success_at TEXT;
ALTER TABLE mailbox_polls ADD COLUMN last_error_at TEXT;
CREATE TABLE mailbox_leases (
    integration_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    holder TEXT NOT NULL,
    held_until TEXT NOT NULL
);
-- What polls so far say: an error on the last poll, or a success.
UPDATE mailbox_polls SET last_error_at = last_polled_at WHERE last_error IS NOT NULL;
UPDATE mailbox_polls SET last_success_at = last_polled_at WHERE last_error IS NULL;
