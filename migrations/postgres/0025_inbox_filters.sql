-- The console's requests inbox filters a project's (or a tenant's) requests by platform and
-- by outcome, newest first. Without these, a filter that matches few or no requests reads
-- every request of the project along messages_project before it can answer.
CREATE INDEX messages_project_status ON messages (project_id, status, id);
CREATE INDEX messages_project_source ON messages (project_id, source, id);
CREATE INDEX messages_tenant_source ON messages (tenant_id, source, id);
