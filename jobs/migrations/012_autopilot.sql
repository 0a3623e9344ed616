-- The autopilot (functions/autopilot): each index's policy, and its cycles. A cycle is one turn of the
-- loop (fine-tuning → deployment → reindex → experiment → cleanup); its row is the state a restarted
-- worker resumes from, and each step's work is a task of the stage that owns it.
CREATE TABLE IF NOT EXISTS autopilot_policies (
    index_name       text PRIMARY KEY REFERENCES indexes (name) ON DELETE CASCADE,
    enabled          boolean NOT NULL,
    paused           boolean NOT NULL DEFAULT false,
    min_new_sessions integer NOT NULL CHECK (min_new_sessions >= 1),
    min_interval_s   double precision NOT NULL CHECK (min_interval_s >= 0),
    preset           text NOT NULL,
    overrides        jsonb NOT NULL DEFAULT '{}',
    experiment       jsonb NOT NULL DEFAULT '{}',
    cleanup_grace_s  double precision NOT NULL CHECK (cleanup_grace_s >= 0),
    callback_url     text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS autopilot_cycles (
    id            text PRIMARY KEY,
    index_name    text NOT NULL REFERENCES indexes (name) ON DELETE CASCADE,
    task_id       text,          -- the cycle's own task (kind autopilot.cycle): parent of every step's
    state         text NOT NULL CHECK (state IN ('running', 'ended')),
    step          text NOT NULL, -- the step running now (or the one it ended at)
    step_task_id  text,          -- the work task of that step
    step_started_at timestamptz NOT NULL DEFAULT now(),
    outcome       text CHECK (outcome IN ('switched', 'discarded', 'refused', 'failed')),
    failed_step   text,
    error         text,
    facts         jsonb NOT NULL DEFAULT '{}',  -- what the steps learned: versions, collections, ids
    steps         jsonb NOT NULL DEFAULT '[]',  -- each ended step: task, status, seconds, detail
    sessions_at_start integer NOT NULL DEFAULT 0,
    started_at    timestamptz NOT NULL DEFAULT now(),
    ended_at      timestamptz
);
-- One running cycle per index: a second start (two workers' ticks, a tick and /run) conflicts here.
CREATE UNIQUE INDEX IF NOT EXISTS autopilot_one_running ON autopilot_cycles (index_name)
    WHERE state = 'running';
CREATE INDEX IF NOT EXISTS autopilot_cycles_by_index ON autopilot_cycles (index_name, started_at);
-- The tick counts each index's sessions closed since its last cycle began, every few seconds: by range.
CREATE INDEX IF NOT EXISTS sessions_closed_by_index ON sessions (index_name, (coalesce(closed_at, applied_at)))
    WHERE NOT irrelevant;
