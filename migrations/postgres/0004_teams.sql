-- Each tenant's default project: where requests without a project go.
ALTER TABLE tenants ADD COLUMN default_project_id TEXT COLLATE "C";

-- Teams created together with a task by the replaced Teams service, with their channels.
CREATE TABLE teams (
    id TEXT COLLATE "C" PRIMARY KEY,
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    channels TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX teams_tenant ON teams (tenant_id, id);

CREATE TABLE task_teams (
    task_id TEXT COLLATE "C" PRIMARY KEY REFERENCES tasks (id) ON DELETE CASCADE,
    team_id TEXT COLLATE "C" NOT NULL REFERENCES teams (id) ON DELETE CASCADE
);
