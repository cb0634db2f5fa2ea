-- Embedding vectors of tasks (TASKBRIDGE_EMBEDDINGS), a semantic source of duplicate
-- candidates: little-endian f32s of title and description, with the model that made them
-- and a digest of the text they were made from, so a changed task is embedded again.
CREATE TABLE task_vectors (
    task_id TEXT COLLATE "C" PRIMARY KEY REFERENCES tasks (id) ON DELETE CASCADE,
    tenant_id TEXT COLLATE "C" NOT NULL,
    model TEXT NOT NULL,
    text_key TEXT NOT NULL,
    vector BYTEA NOT NULL
);
