-- The console's traffic figures, rolled up per index and hour, so a page reads at most a week of rows
-- instead of scanning the clickstream. Hours are rolled up once they are `rollup_lag_hours` old (late
-- clicks of a session land in the hour its session opened); the newer ones are read live.
CREATE TABLE IF NOT EXISTS traffic_hours (
    index_name      text NOT NULL,
    hour            timestamptz NOT NULL,
    searches        integer NOT NULL DEFAULT 0,
    sessions        integer NOT NULL DEFAULT 0,
    clicked         integer NOT NULL DEFAULT 0,   -- sessions with at least one click
    clicks          integer NOT NULL DEFAULT 0,
    irrelevant      integer NOT NULL DEFAULT 0,   -- sessions flagged irrelevant
    applied         integer NOT NULL DEFAULT 0,   -- sessions whose improvement was applied
    moves           integer NOT NULL DEFAULT 0,   -- objects moved by those improvements
    drift           double precision NOT NULL DEFAULT 0,  -- sum of the moves' mean L2 change
    clicks_by_rank  integer[] NOT NULL DEFAULT '{}',      -- [i] = clicks at rank i + 1
    PRIMARY KEY (index_name, hour)
);
-- How far each index is rolled up: every hour before rolled_until has its row (or had no traffic).
CREATE TABLE IF NOT EXISTS traffic_rollups (
    index_name   text PRIMARY KEY,
    rolled_until timestamptz NOT NULL
);
