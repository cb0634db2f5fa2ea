-- Several outgoing webhooks per project (one per subscriber); every other type stays one
-- per (tenant, project, type).
ALTER TABLE integrations DROP CONSTRAINT integrations_tenant_id_project_id_kind_key;
CREATE UNIQUE INDEX integrations_one_per_type ON integrations (tenant_id, project_id, kind) WHERE kind <> 'webhook';
