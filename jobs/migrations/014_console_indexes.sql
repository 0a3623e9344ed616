-- An experiment's tally joins the sessions to its interleaved searches by search_id, and the console
-- tallies every experiment it lists on each view (an index page: up to 20, the actions page: up to 50).
-- Without this index each tally scanned every session of every index: ~350 ms per experiment at 400k
-- sessions (bench/console.py); with it, a lookup per session of that experiment.
CREATE INDEX IF NOT EXISTS sessions_by_search ON sessions (search_id);
