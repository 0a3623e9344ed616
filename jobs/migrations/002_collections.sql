-- The data plane's catalogue. Each collection's rows live in tables of their own, c_<id>_objects and
-- c_<id>_parts, created by jobs/stores/vector_schema.py (their vector dimension and operator class
-- depend on the collection's model and metric, which a static migration cannot know).

-- An index is the name users write to and search. blue_collection_id names its live collection:
-- blue-green is data, so a switch or a rollback is one UPDATE of this row.
CREATE TABLE IF NOT EXISTS indexes (
    name                        text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_-]{0,62}$'),
    model_name                  text NOT NULL,
    blue_collection_id          text,
    previous_blue_collection_id text,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now()
);

-- One physical copy of an index's objects, embedded by one model version.
CREATE TABLE IF NOT EXISTS collections (
    id            text PRIMARY KEY CHECK (id ~ '^[a-z0-9_]{1,40}$'),
    index_name    text NOT NULL REFERENCES indexes (name) ON DELETE CASCADE,
    model_name    text NOT NULL,
    model_version text NOT NULL,
    dim           integer NOT NULL CHECK (dim > 0),
    metric        text NOT NULL CHECK (metric IN ('cosine', 'dot', 'l2')),
    status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deleting')),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS collections_by_index ON collections (index_name, created_at);

-- The live collection cannot be dropped; the previous one (kept for rollback) may be.
ALTER TABLE indexes
    ADD CONSTRAINT indexes_blue_fk FOREIGN KEY (blue_collection_id) REFERENCES collections (id),
    ADD CONSTRAINT indexes_previous_blue_fk FOREIGN KEY (previous_blue_collection_id)
        REFERENCES collections (id) ON DELETE SET NULL;

-- Every answered search with the ids shown, in rank order from position page_offset + 1; clicks refer
-- to search_id. Append-only and without foreign keys, so it outlives the collections it names.
CREATE TABLE IF NOT EXISTS searches (
    search_id     uuid PRIMARY KEY,
    index_name    text NOT NULL,
    collection_id text NOT NULL,
    user_id       text,
    query         text,  -- NULL when the caller searched with a vector
    mode          text NOT NULL,
    page_offset   integer NOT NULL DEFAULT 0,
    object_ids    text[] NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS searches_by_index ON searches (index_name, created_at);
CREATE INDEX IF NOT EXISTS searches_by_user ON searches (user_id, created_at) WHERE user_id IS NOT NULL;
