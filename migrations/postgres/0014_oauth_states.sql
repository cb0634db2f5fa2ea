-- OAuth installs in flight: a state (kept as its SHA-256, never in clear) binds the
-- callback to the tenant, project, key and provider that asked; taken once, expiring.
CREATE TABLE oauth_states (
    state_hash TEXT COLLATE "C" PRIMARY KEY,
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    project_id TEXT COLLATE "C" NOT NULL,
    key_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    -- The PKCE verifier, for providers that take a challenge.
    verifier TEXT,
    extra TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX oauth_states_expiry ON oauth_states (expires_at);
