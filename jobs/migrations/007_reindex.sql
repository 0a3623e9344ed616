-- Reindex (issue 7): one row per reindex task, its keyset batches, and a lease per index.

-- A reindex builds `dest_collection_id` from `source_collection_id` with model version `model_version`.
-- While state is 'building' or 'verified', every write to the index also reaches the destination
-- (functions/upsertion/handler.py: collections_to_write).
CREATE TABLE IF NOT EXISTS reindex_runs (
    task_id              uuid PRIMARY KEY REFERENCES tasks (id) ON DELETE CASCADE,
    index_name           text NOT NULL REFERENCES indexes (name) ON DELETE CASCADE,
    source_collection_id text NOT NULL,
    dest_collection_id   text REFERENCES collections (id) ON DELETE SET NULL,
    model_version        text NOT NULL,
    state                text NOT NULL DEFAULT 'preparing'
                         CHECK (state IN ('preparing', 'building', 'verified', 'switched', 'failed',
                                          'cancelled')),
    total                integer,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS reindex_runs_writing ON reindex_runs (index_name)
    WHERE state IN ('building', 'verified');
CREATE INDEX IF NOT EXISTS reindex_runs_dest ON reindex_runs (dest_collection_id);

-- Keyset batches of a run: objects with after_id < object_id <= last_id (NULL: unbounded). A batch
-- done stays done: a re-run (crash, restart) skips it, so nothing is embedded twice but the batch
-- that was interrupted.
CREATE TABLE IF NOT EXISTS reindex_batches (
    task_id     uuid NOT NULL REFERENCES reindex_runs (task_id) ON DELETE CASCADE,
    seq         integer NOT NULL,
    after_id    text,
    last_id     text,
    status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'done')),
    attempts    integer NOT NULL DEFAULT 0,
    items       integer NOT NULL DEFAULT 0,
    written     integer NOT NULL DEFAULT 0,
    errors      jsonb NOT NULL DEFAULT '[]'::jsonb,
    subtask_id  uuid,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, seq)
);

-- One reindex per index: a lease renewed by the running task's heartbeat; an expired one is free.
CREATE TABLE IF NOT EXISTS reindex_locks (
    index_name text PRIMARY KEY,
    task_id    uuid NOT NULL,
    expires_at timestamptz NOT NULL
);
