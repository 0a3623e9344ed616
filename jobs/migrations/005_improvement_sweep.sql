-- The idle-session sweep claims the sessions it submits, so a backlog on the cpu pool does not make
-- each sweep submit the same sessions again; a claim older than improvement.sweep_retry_s (its task
-- failed or was lost) is swept again.
ALTER TABLE sessions ADD COLUMN IF NOT EXISTS sweep_submitted_at timestamptz;
