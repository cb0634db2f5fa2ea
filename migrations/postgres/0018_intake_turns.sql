-- Intake's duplicate decision and the task it creates form one critical section per
-- project: a create commits only if no other intake create committed in the project since
-- the decision was made (compare-and-set on this counter), on every instance at once.
ALTER TABLE projects ADD COLUMN intake_seq BIGINT NOT NULL DEFAULT 0;
