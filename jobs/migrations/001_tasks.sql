-- The task system: every long-running job of every stage is one row here.
CREATE TABLE IF NOT EXISTS tasks (
    id               uuid PRIMARY KEY,
    kind             text NOT NULL,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'running', 'done', 'failed', 'cancelled')),
    progress         real NOT NULL DEFAULT 0 CHECK (progress >= 0 AND progress <= 100),
    message          text NOT NULL DEFAULT '',
    eta_seconds      real,
    attempts         integer NOT NULL DEFAULT 0,
    generation       integer NOT NULL DEFAULT 0,
    error            jsonb,
    idempotency_key  text,
    fingerprint      text NOT NULL,
    parent_id        uuid REFERENCES tasks (id) ON DELETE CASCADE,
    request          jsonb NOT NULL,
    result           jsonb,
    callback_url     text,
    cancel_requested boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz
);
CREATE UNIQUE INDEX IF NOT EXISTS tasks_idempotency ON tasks (kind, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS tasks_listing ON tasks (created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS tasks_kind_status ON tasks (kind, status, created_at DESC);
CREATE INDEX IF NOT EXISTS tasks_parent ON tasks (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS tasks_pending ON tasks (updated_at) WHERE status = 'pending';

-- One row per webhook attempt, so a user can see why a callback did not arrive.
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id          bigserial PRIMARY KEY,
    task_id     uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    url         text NOT NULL,
    event       text NOT NULL,
    attempt     integer NOT NULL,
    status_code integer,
    error       text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_task ON webhook_deliveries (task_id, id);
