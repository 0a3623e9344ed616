-- Clickstream and online improvement. Sessions carry the query vector, so improvement (cpu pool)
-- never needs a model: the search (or session creation) that embedded the query stores it.
ALTER TABLE searches ADD COLUMN IF NOT EXISTS query_vector vector;

CREATE TABLE IF NOT EXISTS sessions (
    session_id    text PRIMARY KEY CHECK (length(session_id) BETWEEN 1 AND 200),
    index_name    text NOT NULL REFERENCES indexes (name) ON DELETE CASCADE,
    collection_id text,          -- the collection the shown results came from
    search_id     uuid,          -- the recorded search this session is about, if any
    user_id       text,
    query         text NOT NULL,
    query_vector  vector,
    shown         text[] NOT NULL DEFAULT '{}',  -- object ids in rank order (rank = position + 1)
    irrelevant    boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_event_at timestamptz NOT NULL DEFAULT now(),
    closed_at     timestamptz,
    applied_at    timestamptz    -- improvement applied (once per session)
);
CREATE INDEX IF NOT EXISTS sessions_by_time ON sessions (created_at, session_id);
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (user_id, created_at) WHERE user_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS sessions_to_apply ON sessions (last_event_at) WHERE applied_at IS NULL;

CREATE TABLE IF NOT EXISTS events (
    event_id    text PRIMARY KEY CHECK (length(event_id) BETWEEN 1 AND 200),
    session_id  text NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
    type        text NOT NULL,
    object_id   text,
    rank        integer,
    dwell_ms    integer,
    occurred_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    attributes  jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS events_by_session ON events (session_id, occurred_at);

-- Every applied change: which session moved which object, for whom, and by how much.
CREATE TABLE IF NOT EXISTS improvement_audit (
    id            bigserial PRIMARY KEY,
    session_id    text NOT NULL,
    collection_id text NOT NULL,
    object_id     text NOT NULL,
    user_id       text,          -- NULL: a shared adjustment
    direction     text NOT NULL CHECK (direction IN ('toward', 'away')),
    delta         real NOT NULL, -- mean L2 norm of the change over the object's parts
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS improvement_audit_by_session ON improvement_audit (session_id);
CREATE INDEX IF NOT EXISTS improvement_audit_by_object ON improvement_audit (collection_id, object_id);
