-- A running task holds a lease that its job renews (jobs/progress.py). A task whose lease expired lost
-- its worker: the sweep runs it again as a new generation instead of waiting for arq's in-progress key
-- (job_timeout + 10 s, two hours on the gpu pool). NULL while nothing holds the task: pending, ended,
-- or a reindex parent that goes on in its subtasks (each of which holds its own lease).
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS lease_until timestamptz;
-- Leases lost in a row: a task that kills its worker every time fails instead of looping for ever.
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS lost_leases integer NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS tasks_leases ON tasks (lease_until) WHERE status = 'running';
