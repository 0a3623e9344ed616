-- Which sessions each collection has absorbed (improvement carried over a reindex, issue 8).
-- A session's improvement is applied once to the collection its results came from (applied_at);
-- a new collection of the index (a reindex destination, or the rollback target) then replays every
-- applied session it has not absorbed yet, with the query re-embedded by its own model. One row per
-- (collection, session), written in the transaction that moves the vectors: exactly once each.
CREATE TABLE IF NOT EXISTS session_collections (
    collection_id text NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    session_id    text NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
    replayed      boolean NOT NULL DEFAULT false,  -- false: applied there directly
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (collection_id, session_id)
);
CREATE INDEX IF NOT EXISTS session_collections_by_session ON session_collections (session_id);
-- Sessions in the order they were applied, for the replay's pages.
CREATE INDEX IF NOT EXISTS sessions_applied ON sessions (index_name, applied_at, session_id)
    WHERE applied_at IS NOT NULL;

-- Sessions applied before this table existed: where their changes went (the audit), else the
-- collection their results came from.
INSERT INTO session_collections (collection_id, session_id)
    SELECT DISTINCT a.collection_id, a.session_id FROM improvement_audit a
    JOIN collections c ON c.id = a.collection_id JOIN sessions s ON s.session_id = a.session_id
    ON CONFLICT DO NOTHING;
INSERT INTO session_collections (collection_id, session_id)
    SELECT s.collection_id, s.session_id FROM sessions s JOIN collections c ON c.id = s.collection_id
    WHERE s.applied_at IS NOT NULL
    ON CONFLICT DO NOTHING;
