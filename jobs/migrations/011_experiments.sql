-- Online experiments (functions/experiments): an index's blue collection (control) against a candidate
-- collection of the same index, judged by clicks on interleaved result lists. The tally is never stored
-- as counters: it is read from the clickstream (searches carry the experiment and the side of each shown
-- position), so a retried event, a restarted process or a replayed job can never count a click twice.
CREATE TABLE IF NOT EXISTS experiments (
    id                      text PRIMARY KEY,
    index_name              text NOT NULL REFERENCES indexes (name) ON DELETE CASCADE,
    control_collection_id   text NOT NULL,
    candidate_collection_id text NOT NULL,
    candidate_model_version text NOT NULL,
    share                   double precision NOT NULL CHECK (share > 0 AND share <= 1),
    alpha                   double precision NOT NULL CHECK (alpha > 0 AND alpha < 1),
    tau                     double precision NOT NULL CHECK (tau > 0),
    min_sessions            integer NOT NULL CHECK (min_sessions >= 1),
    max_sessions            integer NOT NULL CHECK (max_sessions >= min_sessions),
    on_win                  text NOT NULL,
    on_lose                 text NOT NULL,
    on_tie                  text NOT NULL,
    -- running → deciding (verdict and action fixed, the action task submitted) → decided;
    -- running → stopped (by hand) or aborted (the candidate or the control went away).
    state     text NOT NULL CHECK (state IN ('running', 'deciding', 'decided', 'stopped', 'aborted', 'failed')),
    verdict   text CHECK (verdict IN ('candidate', 'control', 'tie')),
    action    text CHECK (action IN ('switch', 'discard', 'keep')),
    reason    text,
    tally     jsonb,          -- the tally the decision was made on (frozen with it)
    task_id   text,           -- the experiments.decide task that applies the action
    callback_url text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    ended_at   timestamptz
);
-- One live experiment per index: a second POST gets a 409 from this index, not from a racy check.
CREATE UNIQUE INDEX IF NOT EXISTS experiments_one_live ON experiments (index_name)
    WHERE state IN ('running', 'deciding');
CREATE INDEX IF NOT EXISTS experiments_by_index ON experiments (index_name, created_at);

ALTER TABLE searches ADD COLUMN IF NOT EXISTS experiment_id text;
-- sides[i] picked shown position i ('control' or 'candidate'), for interleaved searches only.
ALTER TABLE searches ADD COLUMN IF NOT EXISTS sides text[];
CREATE INDEX IF NOT EXISTS searches_by_experiment ON searches (experiment_id) WHERE experiment_id IS NOT NULL;
