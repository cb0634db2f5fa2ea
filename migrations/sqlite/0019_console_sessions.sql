-- Web console sessions: the browser holds a random token in an HttpOnly cookie, the
-- database only its SHA-256. A session acts as the API key that signed in (deleting the
-- key ends it) and expires after a time without use. The CSRF token goes into every form.
CREATE TABLE console_sessions (
    token_hash TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    key_id TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);
CREATE INDEX console_sessions_key ON console_sessions (key_id);

-- The console's overview counts a tenant's tasks by status and today's requests.
CREATE INDEX tasks_tenant_status ON tasks (tenant_id, status);
CREATE INDEX messages_tenant_received ON messages (tenant_id, received_at);
