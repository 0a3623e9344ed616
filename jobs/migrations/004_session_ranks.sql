-- A session's shown list may be a later page of results (a search with an offset, or a client that
-- showed ranks 11-20): the rank of shown[i] is shown_offset + i + 1, so events can name their rank
-- as the user saw it.
ALTER TABLE sessions ADD COLUMN IF NOT EXISTS shown_offset integer NOT NULL DEFAULT 0
    CHECK (shown_offset >= 0);
-- Listing a user's or an index's sessions by time, and exporting an index's sessions.
CREATE INDEX IF NOT EXISTS sessions_by_index ON sessions (index_name, created_at, session_id);
