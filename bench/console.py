"""Console pages at 100k objects and 1M click events: server time per page, against raw clickstream scans.

`python -m bench.console [--rebuild] [--requests 30]`

One index (`bench_console`) is made through the real handler (`create_index`), then filled with
100,000 objects of random normalised 384-d vectors written through the real store (`VectorStore.write`,
HNSW indexes dropped and rebuilt after loading, as bench/search.py does: no model embeds them, which
would take hours on these cores). Its clickstream is written with set-based SQL over the last 168 hours
(the console's traffic window), rows in time order as production appends them: 500,000 searches (each
with its 20 shown ids and a query vector, as the search path records them), 400,000 sessions about
them (each with its query vector), 1,000,000 click events drawn over 300,000 of those sessions (~289,000
get one or more) with ranks 1-20 under position bias (37% at rank 1, 1.7% at rank 20), 25,000 sessions
flagged irrelevant, 42,858 applied with two improvement_audit rows each; three decided interleaving
experiments of 4,000 searches (3,200 sessions) each, their tallies frozen as the decision sweep freezes
them; 30 finished fine-tuning tasks with held-out scores
(the quality chart) and 4,100 other tasks (the tasks page). Later runs reuse what matches these counts
(`--rebuild` writes everything again); a clickstream written over an hour ago is moved forward by that
time first, so the newest hours, which every view aggregates live, hold traffic as in production. The
index's traffic roll-ups are deleted before measuring.

Measured in-process: the real app (`create_app` on a `web` Context) driven by httpx's ASGI transport
(no network: server time), signed in with the admin key like a browser (sign-in form, CSRF token,
session cookie). First the index page once, cold: its first view rolls up every finished hour of the
window into traffic_hours (`console_index_cold_ms`). Then each page, one warm-up request and then
`--requests` sequential ones: p50, p95 and max; then the handlers the index page calls, each timed
alone, to show where its time goes. As raw baselines, in the same run on a connection of the bench's
own (asyncpg): `count(*)` of the events table, and the traffic store's own aggregate queries over the
whole 168-hour window, which is what every view would cost if the page aggregated the clickstream
instead of reading roll-ups (`console_traffic_vs_raw_aggregate_p50`: the traffic handler's p50 over
that). The machine's load average is printed with the figures: on a shared machine it moves them.
`console_page_p95_ms` is the slowest page's p95 (the requirement: under 300 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import msgspec
import numpy as np
import numpy.typing as npt
from pgvector.asyncpg import register_vector

from app.main import create_app
from bench import bench_environment, print_table
from bench._bulk_load import write_vectors
from functions.console import handler as console
from functions.console.handler import FINE_TUNING_KIND
from functions.context import Context
from functions.experiments import handler as experiments
from functions.records import Collection
from functions.upsertion.indexes import create_index
from functions.upsertion.messages import CreateIndexRequest
from jobs.bootstrap import build_context, close_context, load_config
from jobs.stores import traffic
from jobs.stores.vector_schema import tables

INDEX = "bench_console"
N_OBJECTS, DIM, SEED = 100_000, 384, 20240611
N_SEARCHES, N_EVENTS = 500_000, 1_000_000  # a session for 4 searches in 5: 400,000 sessions
SHOWN, QUERY_VECTORS = 20, 1_000
FINE_TUNING_RUNS, OTHER_TASKS = 30, 4_100
SEED_MARK = "bench-console-seed"  # the fingerprint of the tasks this bench wrote
TOKEN = re.compile(r'name="_csrf_token" value="([^"]+)"')
# The live part of a view covers the last two hours and this one: older by more than an hour, the
# clickstream is moved forward (cheaper than writing it again) so that part holds its usual traffic.
STALE_AFTER = timedelta(hours=1)
COUNT_EVENTS = "SELECT count(*) FROM events"

# The k-th shown id of search n: the same formula in the searches, sessions and events, so no seeding
# step has to join another to learn what a session showed.
SHOWN_ID = "'o' || lpad((((n::bigint * 7919) + ({k}) * 104729) % 100000)::text, 6, '0')"
SEARCH_AT = f"($2::timestamptz - make_interval(secs => $3::float8 * (1 - (n - 0.5) / {N_SEARCHES}.0)))"
# Three experiments, each interleaving every second search of 8,000 in a row (4,000 searches).
EXPERIMENTS = [(f"{INDEX}_x{i}", first, first + 7_999) for i, first in enumerate((90_000, 220_000, 350_000))]
WINDOWS = "(VALUES " + ", ".join(f"('{x}', {a}, {b})" for x, a, b in EXPERIMENTS) + ") AS x(id, first, last)"

SEARCHES = f"""INSERT INTO searches (search_id, index_name, collection_id, user_id, query, mode, page_offset,
        object_ids, query_vector, created_at, experiment_id, sides)
    SELECT md5($1::text || '/' || n)::uuid, $1, $4::text, 'u' || (n % 20000), 'query ' || (n % 25000),
        'best_part', 0,
        ARRAY(SELECT {SHOWN_ID.format(k="k")} FROM generate_series(0, {SHOWN - 1}) k),
        v.vector, {SEARCH_AT}, x.id,
        CASE WHEN x.id IS NOT NULL THEN ARRAY(SELECT CASE WHEN (k + n) % 2 = 0 THEN 'control' ELSE 'candidate'
            END FROM generate_series(0, {SHOWN - 1}) k) END
    FROM generate_series(1, {N_SEARCHES}) n
    JOIN bench_query_vectors v ON v.i = n % {QUERY_VECTORS}
    LEFT JOIN {WINDOWS} ON n BETWEEN x.first AND x.last AND n % 2 = 0
    ORDER BY n"""
# Clicked: n % 5 in (1, 2, 3); irrelevant: a quarter of the others; applied: a seventh of the clicked.
SESSIONS = f"""INSERT INTO sessions (session_id, index_name, collection_id, search_id, user_id, query,
        query_vector, shown, irrelevant, created_at, last_event_at, closed_at, applied_at, sweep_submitted_at)
    SELECT $1::text || '-' || n, $1, $4::text, md5($1::text || '/' || n)::uuid, 'u' || (n % 20000),
        'query ' || (n % 25000),
        v.vector, ARRAY(SELECT {SHOWN_ID.format(k="k")} FROM generate_series(0, {SHOWN - 1}) k),
        n % 5 = 4 AND (n / 5) % 4 = 0, t, t + interval '65 s', t + interval '95 s',
        CASE WHEN n % 5 IN (1, 2, 3) AND (n / 5) % 7 = 0 THEN t + interval '100 s' END,
        t + interval '96 s'
    FROM (SELECT n, {SEARCH_AT} + interval '2 s' AS t FROM generate_series(1, {N_SEARCHES}) n
          WHERE n % 5 <> 0) s
    JOIN bench_query_vectors v ON v.i = n % {QUERY_VECTORS}
    ORDER BY n"""
# Event j clicks clicked session c (uniform: ~3.3 clicks each) at rank 1 + floor(20 u^3): rank 1 gets
# 37% of clicks, rank 20 under 2%. Written in time order, as the API appends them.
EVENTS = f"""INSERT INTO events
        (event_id, session_id, type, object_id, rank, dwell_ms, occurred_at, received_at)
    SELECT $1::text || '-e' || j, $1::text || '-' || n, 'click', {SHOWN_ID.format(k="rank - 1")}, rank,
        (2000 + random() * 60000)::int, t, t + interval '1 s'
    FROM (SELECT j, n, rank, {SEARCH_AT} + make_interval(secs => 5 + rank + random() * 40) AS t
          FROM (SELECT j, (c / 3) * 5 + c % 3 + 1 AS n, 1 + floor(20 * power(random(), 3))::int AS rank
                FROM (SELECT j, floor(random() * {N_SEARCHES // 5 * 3})::int AS c
                      FROM generate_series(1, {N_EVENTS}) j) a) b) e
    ORDER BY t"""
AUDIT = """INSERT INTO improvement_audit (session_id, collection_id, object_id, direction, delta, created_at)
    SELECT s.session_id, s.collection_id, s.shown[m], CASE m WHEN 1 THEN 'toward' ELSE 'away' END,
        0.005 + random() * 0.03, s.applied_at
    FROM sessions s CROSS JOIN generate_series(1, 2) m
    WHERE s.index_name = $1 AND s.applied_at IS NOT NULL ORDER BY s.applied_at"""
EXPERIMENT_ROWS = """INSERT INTO experiments (id, index_name, control_collection_id, candidate_collection_id,
        candidate_model_version, share, alpha, tau, min_sessions, max_sessions, on_win, on_lose, on_tie,
        state, verdict, action, reason, tally, created_at, updated_at, ended_at)
    SELECT x.id, $1, $2, x.id || '_candidate', (x.ord + 1)::text, 0.5, 0.05, 0.2, 100, 2000,
        'switch', 'discard', 'discard', 'decided', 'control', 'discard', 'the control won',
        '{"sessions": 2000}'::jsonb, min(r.created_at), max(r.created_at), max(r.created_at)
    FROM unnest($3::text[]) WITH ORDINALITY AS x(id, ord)
    JOIN searches r ON r.experiment_id = x.id GROUP BY x.id, x.ord"""
# improvement.apply batches (the sweep's), some failed, upserts and deploys: the tasks page's tables.
OTHER = f"""INSERT INTO tasks (id, kind, status, progress, message, attempts, error, fingerprint, request,
        result, created_at, updated_at, started_at, finished_at)
    SELECT md5($1::text || '/task/' || i)::uuid, kind, status, 100, status, 1,
        CASE WHEN status = 'failed' THEN jsonb_build_object('stage', 'improvement', 'type', 'TimeoutError',
            'message', 'the collection was locked for too long', 'attempt', 3) END,
        '{SEED_MARK}', json_build_object('index', $1::text, 'session_ids',
            ARRAY(SELECT $1::text || '-' || (i * 97 + k) FROM generate_series(1, 10) k)),
        CASE WHEN status = 'done' THEN jsonb_build_object('applied', 10) END, t, t + interval '4 s', t,
        t + interval '4 s'
    FROM (SELECT i, now() - make_interval(secs => i * 147.0) AS t,
            CASE WHEN i % 200 = 0 THEN 'upsertion.upsert' WHEN i % 1000 = 7 THEN 'deployment.deploy'
                ELSE 'improvement.apply' END AS kind,
            CASE WHEN i % 97 = 0 THEN 'failed' ELSE 'done' END AS status
          FROM generate_series(1, {OTHER_TASKS}) i) g"""
FINE_TUNING = f"""INSERT INTO tasks (id, kind, status, progress, message, attempts, fingerprint, request,
        result, created_at, updated_at, started_at, finished_at)
    VALUES ($1, '{FINE_TUNING_KIND}', 'done', 100, 'done', 1, $2, $3, $4, $5::timestamptz,
        $5::timestamptz + interval '40 min', $5::timestamptz, $5::timestamptz + interval '40 min')"""


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild", action="store_true", help="write the objects and the clickstream again")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page")
    return parser.parse_args()


class Progress:
    """One line per seeding step, with the seconds since the bench began."""

    def __init__(self) -> None:
        self.began = time.perf_counter()

    def __call__(self, message: str) -> None:
        print(f"[{time.perf_counter() - self.began:6.1f} s] {message}", flush=True)


async def connect(url: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(url)
    await register_vector(conn)
    return conn


def normalised(rng: np.random.Generator, n: int) -> npt.NDArray[np.float32]:
    x = rng.standard_normal((n, DIM))
    return np.asarray(x / np.linalg.norm(x, axis=1, keepdims=True), dtype=np.float32)


# Objects -----------------------------------------------------------------------------------------------


async def objects_intact(conn: asyncpg.Connection, collection: Collection) -> bool:
    """Whether the collection holds N_OBJECTS objects, one part each, with both HNSW indexes built."""
    t = tables(collection)
    objects = await conn.fetchval(t.sql("SELECT count(*) FROM {objects}"))
    parts = await conn.fetchval(t.sql("SELECT count(*) FROM {parts}"))
    built = await conn.fetchval(
        "SELECT count(*) FROM pg_indexes WHERE indexname = ANY($1::text[])",
        [f"{t.parts_name}_hnsw", f"{t.objects_name}_hnsw"],
    )
    return bool(objects == N_OBJECTS and parts == N_OBJECTS and built == 2)


async def load_objects(ctx: Context, conn: asyncpg.Connection, collection: Collection, say: Progress) -> None:
    """Every object through the store, HNSW indexes dropped, then rebuilt as the store builds them."""
    data = normalised(np.random.default_rng(SEED), N_OBJECTS)
    copied, built = await write_vectors(
        ctx,
        conn,
        collection,
        data,
        lambda i: f"o{i:06d}",
        lambda i: f"synthetic object {i}",
        lambda i: {"n": i},
    )
    say(
        f"objects: {N_OBJECTS} written through the store ({copied:.0f} s), HNSW indexes built ({built:.0f} s)"
    )


# Clickstream -------------------------------------------------------------------------------------------


EXPECTED = {
    "searches": N_SEARCHES,
    "sessions": N_SEARCHES // 5 * 4,
    "events": N_EVENTS,
    "experiments": len(EXPERIMENTS),
    "fine_tuning": FINE_TUNING_RUNS,
    "tasks": OTHER_TASKS,
}
COUNTS = f"""SELECT
    (SELECT count(*) FROM searches WHERE index_name = $1) AS searches,
    (SELECT count(*) FROM sessions WHERE index_name = $1) AS sessions,
    (SELECT count(*) FROM events e JOIN sessions s USING (session_id) WHERE s.index_name = $1) AS events,
    (SELECT count(*) FROM experiments WHERE index_name = $1) AS experiments,
    (SELECT count(*) FROM tasks WHERE fingerprint = '{SEED_MARK}' AND kind = '{FINE_TUNING_KIND}')
        AS fine_tuning,
    (SELECT count(*) FROM tasks WHERE fingerprint = '{SEED_MARK}' AND kind <> '{FINE_TUNING_KIND}')
        AS tasks"""


async def clickstream_intact(conn: asyncpg.Connection) -> bool:
    row = await conn.fetchrow(COUNTS, INDEX)
    found = dict(row) if row is not None else {}
    if found != EXPECTED:
        print(f"clickstream: found {found}, want {EXPECTED}")
    return found == EXPECTED


async def clear_clickstream(conn: asyncpg.Connection) -> None:
    """The index's clickstream and the tasks this bench wrote (the bench database holds other benches')."""
    await conn.execute(
        "DELETE FROM events e USING sessions s WHERE s.session_id = e.session_id AND s.index_name = $1", INDEX
    )
    await conn.execute(
        "DELETE FROM improvement_audit a USING sessions s WHERE s.session_id = a.session_id"
        " AND s.index_name = $1",
        INDEX,
    )
    await conn.execute("DELETE FROM sessions WHERE index_name = $1", INDEX)
    await conn.execute("DELETE FROM searches WHERE index_name = $1", INDEX)
    await conn.execute("DELETE FROM experiments WHERE index_name = $1", INDEX)
    await conn.execute("DELETE FROM tasks WHERE fingerprint = $1", SEED_MARK)


async def seed_clickstream(
    conn: asyncpg.Connection, collection: Collection, hours: int, say: Progress
) -> None:
    """Searches, sessions, clicks, feedback, experiments and tasks, set-based, over the last `hours`."""
    await clear_clickstream(conn)
    say("clickstream: the old one deleted")
    await conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS bench_query_vectors (i int, vector vector({DIM}))")
    await conn.execute("TRUNCATE bench_query_vectors")
    vectors = normalised(np.random.default_rng(SEED + 1), QUERY_VECTORS)
    await conn.copy_records_to_table("bench_query_vectors", records=list(enumerate(vectors)))
    await conn.execute("SELECT setseed(0.42)")  # the same clicks every time
    until = await conn.fetchval("SELECT now() - interval '1 minute'")
    span = hours * 3600.0 - 120.0  # inside the console's window
    for name, sql in (("searches", SEARCHES), ("sessions", SESSIONS), ("events", EVENTS)):
        args = (INDEX, until, span, collection.id)
        await conn.execute(sql, *(args if name != "events" else args[:3]))
        say(f"clickstream: {name} written")
    await conn.execute(AUDIT, INDEX)
    await conn.execute(EXPERIMENT_ROWS, INDEX, collection.id, [x for x, _, _ in EXPERIMENTS])
    await conn.execute(OTHER, INDEX)
    await conn.executemany(FINE_TUNING, fine_tuning_tasks(until))
    say("clickstream: improvement audit, experiments and tasks written")
    await vacuum(conn)
    say("clickstream: tables vacuumed and analysed")


async def freeze_tallies(ctx: Context, conn: asyncpg.Connection, say: Progress) -> None:
    """Each decided experiment keeps the tally its decision was taken on, as the decision sweep freezes
    it (functions/experiments/decide.py): counted here by the product's own tally of the seeded rows."""
    for experiment_id, _, _ in EXPERIMENTS:
        found = await ctx.experiments.get(experiment_id) if ctx.experiments is not None else None
        if found is None:
            continue
        now = await experiments.tallied(found, ctx, cap=found.max_sessions)
        await conn.execute(
            "UPDATE experiments SET tally = $2::jsonb WHERE id = $1",
            experiment_id,
            msgspec.json.encode(now).decode(),
        )
    say("experiments: decided tallies frozen")


def fine_tuning_tasks(until: datetime) -> list[tuple[Any, ...]]:
    """A month of daily fine-tuning runs on the index, each scored against the champion it ran beside."""
    rng = np.random.default_rng(SEED + 2)
    rows, champion = [], 0.39
    for i in range(FINE_TUNING_RUNS):
        challenger = round(champion + float(rng.normal(0.004, 0.006)), 4)
        promoted = challenger > champion + 0.002
        result = {
            "status": "trained",
            "index": INDEX,
            "preset": "small",
            "sessions": 4_000 + 300 * i,
            "needed": 200,
            "base_version": str(i + 1),
            "registered_version": str(i + 2),
            "evaluated_on": "clicks",
            "champion": scores(champion),
            "challenger": scores(challenger),
            "promoted": promoted,
            "rule": "better or not significantly worse" if promoted else "worse with significance",
        }
        at = until - timedelta(days=FINE_TUNING_RUNS - i, hours=3)
        request = json.dumps({"index": INDEX, "preset": "small"})
        task_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{INDEX}/fine-tuning/{i}")
        rows.append((task_id, SEED_MARK, request, json.dumps(result), at))
        champion = challenger if promoted else champion
    return rows


def scores(ndcg: float) -> dict[str, float]:
    recall = round(min(0.99, 0.5 + ndcg), 4)
    return {"ndcg_at_10": ndcg, "mrr_at_10": round(ndcg * 0.93, 4), "recall_at_100": recall}


async def vacuum(conn: asyncpg.Connection) -> None:
    # Autovacuum would have caught up with a week of appends; without it nothing could use index-only
    # scans and the planner would guess from empty statistics.
    for table in ("searches", "sessions", "events", "improvement_audit", "experiments", "tasks"):
        await conn.execute(f"VACUUM ANALYZE {table}")


async def move_forward(conn: asyncpg.Connection, say: Progress) -> None:
    """Shift the clickstream's timestamps by the time since it was written: the window stays full and the
    newest hours (aggregated live by the page) hold traffic."""
    newest: datetime = await conn.fetchval(
        "SELECT max(created_at) FROM searches WHERE index_name = $1", INDEX
    )
    shift = await conn.fetchval("SELECT now() - interval '1 minute' - $1::timestamptz", newest)
    if shift < STALE_AFTER:
        return
    async with conn.transaction():
        await conn.execute(
            "UPDATE searches SET created_at = created_at + $2::interval WHERE index_name = $1", INDEX, shift
        )
        await conn.execute(
            """UPDATE sessions SET created_at = created_at + $2::interval,
                last_event_at = last_event_at + $2::interval, closed_at = closed_at + $2::interval,
                applied_at = applied_at + $2::interval, sweep_submitted_at = sweep_submitted_at + $2::interval
            WHERE index_name = $1""",
            INDEX,
            shift,
        )
        await conn.execute(
            """UPDATE events e SET occurred_at = occurred_at + $2::interval,
                received_at = received_at + $2::interval
            FROM sessions s WHERE s.session_id = e.session_id AND s.index_name = $1""",
            INDEX,
            shift,
        )
        await conn.execute(
            """UPDATE improvement_audit a SET created_at = a.created_at + $2::interval
            FROM sessions s WHERE s.session_id = a.session_id AND s.index_name = $1""",
            INDEX,
            shift,
        )
    await vacuum(conn)
    say(f"clickstream: moved forward by {shift} (written then), tables vacuumed")


# Measuring ---------------------------------------------------------------------------------------------


async def sign_in(client: httpx.AsyncClient, key: str) -> None:
    form = await client.get("/console/sign-in")
    found = TOKEN.search(form.text)
    if found is None:
        raise RuntimeError(f"no CSRF token on the sign-in page: {form.status_code}")
    signed = await client.post("/console/sign-in", data={"key": key, "_csrf_token": found.group(1)})
    if signed.status_code != 303:
        raise RuntimeError(f"sign-in refused: {signed.status_code} {signed.text[:300]}")


async def get_page(client: httpx.AsyncClient, path: str) -> None:
    answer = await client.get(path)
    if answer.status_code != 200:
        raise RuntimeError(f"GET {path}: {answer.status_code} {answer.text[:300]}")


async def timed(call: Callable[[], Awaitable[Any]], repeats: int) -> tuple[float, float, float]:
    """p50, p95 and max in ms of `repeats` sequential calls, after one untimed warm-up call."""
    await call()
    seconds = []
    for _ in range(repeats):
        began = time.perf_counter()
        await call()
        seconds.append(time.perf_counter() - began)
    ms = np.asarray(seconds) * 1000
    p50, p95 = np.percentile(ms, [50, 95])
    return float(p50), float(p95), float(ms.max())


async def measure(ctx: Context, conn: asyncpg.Connection, key: str, args: argparse.Namespace) -> list[str]:
    # A cold first view each run: the roll-ups of earlier runs (and of moved timestamps) go.
    await conn.execute("DELETE FROM traffic_hours WHERE index_name = $1", INDEX)
    await conn.execute("DELETE FROM traffic_rollups WHERE index_name = $1", INDEX)
    pages = {
        "overview  /console/": "/console/",
        f"index  /console/indexes/{INDEX}": f"/console/indexes/{INDEX}",
        "tasks  /console/tasks": "/console/tasks",
        "playground  /console/playground": "/console/playground",
        "reports  /console/reports": "/console/reports",
        "actions  /console/actions": "/console/actions",
    }
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request would bury the tables
    transport = httpx.ASGITransport(app=create_app(context=ctx))  # type: ignore[arg-type]
    rows = []
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        await sign_in(client, key)
        began = time.perf_counter()
        await get_page(client, f"/console/indexes/{INDEX}")
        cold = (time.perf_counter() - began) * 1000
        rolled = await conn.fetchval("SELECT count(*) FROM traffic_hours WHERE index_name = $1", INDEX)
        print(f"index page, first view: {cold:.1f} ms (rolled up {rolled} hours of traffic)")
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"load average when measuring: {load} on {len(os.sched_getaffinity(0))} cores")
        for name, path in pages.items():
            figures = await timed(functools.partial(get_page, client, path), args.requests)
            rows.append((name, args.requests, *figures))
    print_table(["page (server time, in-process ASGI)", "requests", "p50 ms", "p95 ms", "max ms"], rows)
    parts = await index_parts(ctx, args.requests)
    print_table(["index page by part (handlers, in-process)", "calls", "p50 ms", "p95 ms", "max ms"], parts)
    baselines = await raw_baselines(conn, ctx, args.requests)
    print_table(["raw database (asyncpg, same run)", "repeats", "p50 ms", "p95 ms", "max ms"], baselines)
    index_p50, aggregate_p50, count_p50 = rows[1][2], baselines[0][2], baselines[1][2]
    traffic_ratio = parts[-1][2] / aggregate_p50
    print(
        f"p50 / raw 168-hour aggregate: traffic read {traffic_ratio:.4f}, whole index page"
        f" {index_p50 / aggregate_p50:.3f}; index page p50 / count(*) of events {index_p50 / count_p50:.2f}"
    )
    return [
        f"console_index_cold_ms: {cold:.1f}",
        f"console_traffic_vs_raw_aggregate_p50: {traffic_ratio:.4f}",
        f"console_page_p95_ms: {max(r[3] for r in rows):.1f}",
    ]


async def index_parts(ctx: Context, repeats: int) -> list[tuple[Any, ...]]:
    """Where the index page's time goes: each handler it calls, timed alone."""
    listed = len((await experiments.summaries(INDEX, 20, ctx)).experiments)
    calls: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
        ("collections (exact object and part counts)", lambda: console.collections(INDEX, ctx)),
        ("quality (fine-tuning tasks)", lambda: console.quality(INDEX, ctx)),
        (f"experiments ({listed}, decided: frozen tallies)", lambda: experiments.summaries(INDEX, 20, ctx)),
        ("traffic (rolled-up hours + live hours)", lambda: console.traffic(INDEX, ctx)),
    ]
    return [(name, repeats, *await timed(call, repeats)) for name, call in calls]


async def raw_baselines(conn: asyncpg.Connection, ctx: Context, repeats: int) -> list[tuple[Any, ...]]:
    """What the page would cost if it aggregated the clickstream: the traffic store's own queries over
    the whole window; and a bare count of every click event."""
    cfg = ctx.config.console
    now = datetime.now(UTC)
    since = (now - timedelta(hours=cfg.traffic_hours - 1)).replace(minute=0, second=0, microsecond=0)
    window = (INDEX, since, now + timedelta(hours=1))

    async def aggregate() -> None:
        for sql in (traffic.SEARCHES, traffic.SESSIONS, traffic.CLICKED, traffic.APPLIED):
            await conn.fetch(sql, *window)
        await conn.fetch(traffic.CLICKS, *window, cfg.max_rank)

    runs = max(3, repeats // 6)  # each aggregate takes seconds
    return [
        (f"traffic aggregate, {cfg.traffic_hours} h (no roll-ups)", runs, *await timed(aggregate, runs)),
        ("SELECT count(*) FROM events", repeats, *await timed(lambda: conn.fetchval(COUNT_EVENTS), repeats)),
    ]


async def run(key: str, args: argparse.Namespace) -> list[str]:
    say = Progress()
    config = load_config()
    ctx = await build_context(config, role="web")
    conn = await connect(config.database.url)
    try:
        await create_index(CreateIndexRequest(name=INDEX), ctx)
        collection = await ctx.collections.blue(INDEX)
        if collection is None or collection.dim != DIM:
            raise RuntimeError(f"{INDEX} has no blue collection of dimension {DIM}: {collection}")
        if args.rebuild or not await objects_intact(conn, collection):
            await load_objects(ctx, conn, collection, say)
        else:
            say(f"objects: reused ({N_OBJECTS} in {collection.id}; --rebuild writes them again)")
        if args.rebuild or not await clickstream_intact(conn):
            await seed_clickstream(conn, collection, config.console.traffic_hours, say)
        else:
            say("clickstream: reused (--rebuild writes it again)")
            await move_forward(conn, say)
        await freeze_tallies(ctx, conn, say)
        indexes = await conn.fetchval("SELECT count(*) FROM indexes")
        say(f"measuring ({indexes} indexes in the bench database; the overview counts every one)")
        headlines = await measure(ctx, conn, key, args)
        say("done")
        return headlines
    finally:
        await conn.close()
        await close_context(ctx)


def main() -> None:
    args = arguments()
    _, key = bench_environment(own_mlflow=True)  # before any config is composed
    headlines = asyncio.run(run(key, args))
    print("\n".join(headlines))


if __name__ == "__main__":
    main()
