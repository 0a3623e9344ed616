"""Search at 100k vectors: HNSW recall@10 against exact numpy, latency without and with query embedding.

`python -m bench.search [--rebuild] [--requests 1000] [--port 8782]`

The collection (index `bench_search_100k`) holds 100,000 normalised 384-d vectors, one part per
object, from a fixed-seed mixture of clusters: each cluster a centre and a low-rank spread of its own,
plus isotropic noise and a direction all vectors share (sentence embeddings are neither uniform nor
isotropic; uniform random vectors would make HNSW look worse than it is on real data). They are
written with the real store (`VectorStore.write`: COPY through staging tables) while the HNSW indexes
are dropped, then the indexes are rebuilt with the store's own DDL (`create_tables`): bulk loads build
after loading (design.md §5). Later runs reuse the collection; `--rebuild` loads it again.

Measured against one database: recall@10 of the search handler (best_part; with one part per object
that is plain k-NN) against exact top 10, over 200 held-out queries of the same mixture; latency of
that handler called in-process with `vector=` (no HTTP, no embedding), of `POST /search/similar` with
`vector=` (HTTP, no embedding), and of the bare SQL `ORDER BY vector <=> $1 LIMIT 10` as the floor
(asyncpg, the same HNSW settings, each client a connection of its own and nothing else on it), at 1
and 8 concurrent clients; then end to end, `POST /search/similar` with text queries (embedded by the
web process) at 10 concurrent clients. The HTTP client is aiohttp: the floor's client is asyncpg, the
fastest there is, so the server is not charged for a slow client. `search_p99_ms` is the HTTP
`vector=` path at one client: what a caller that brings its own vector waits, so it includes HTTP
and JSON but no model. `query_embed_parity_min_cosine`: the web process's query embedder (the
configured query runtime) against the deployed model itself, over the parity texts, one by one and
batched.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

import aiohttp
import asyncpg
import msgspec
import numpy as np
import numpy.typing as npt
from pgvector.asyncpg import register_vector

from bench import LOG_DIR, bench_environment, machine_busy_s, ms_percentiles, print_table
from bench._bulk_load import write_vectors
from bench._query_parity import query_parity
from functions.context import Context
from functions.records import Collection
from functions.search import handler
from functions.search.messages import SearchRequest
from jobs.bootstrap import build_context, close_context, load_config
from jobs.stores.vector_schema import tables
from scripts.services.stack import running_stack
from sim import beir
from sim.corpus import dataset_or_none
from sim.ir_metrics import recall_at_k

Array = npt.NDArray[np.float32]
INDEX = "bench_search_100k"
N_VECTORS, N_QUERIES, DIM, SEED = 100_000, 200, 384, 20240601
CLUSTERS, RANK = 400, 16
RAW_SQL = 'SELECT object_id FROM "{parts}" ORDER BY vector <=> $1 LIMIT $2'


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild", action="store_true", help="load the 100k vectors again")
    parser.add_argument("--requests", type=int, default=1000, help="requests per latency row")
    parser.add_argument("--port", type=int, default=8782)
    return parser.parse_args()


def normalise(x: npt.NDArray[np.floating[Any]]) -> Array:
    return np.asarray(x / np.linalg.norm(x, axis=-1, keepdims=True), dtype=np.float32)


def mixture(n: int) -> tuple[Array, npt.NDArray[np.int64]]:
    """`n` vectors of the fixed mixture, and their clusters (same seed: same vectors, every run)."""
    rng = np.random.default_rng(SEED)
    centres = normalise(rng.standard_normal((CLUSTERS, DIM)))
    shared = normalise(rng.standard_normal(DIM))
    assign = rng.choice(CLUSTERS, size=n, p=rng.dirichlet(np.full(CLUSTERS, 2.0)))
    scales = np.linspace(0.5, 0.05, RANK)  # a few strong directions per cluster, then weaker ones
    out = np.empty((n, DIM), np.float32)
    for c in range(CLUSTERS):
        idx = np.flatnonzero(assign == c)
        basis = rng.standard_normal((RANK, DIM)) / np.sqrt(DIM)  # unit-length directions
        spread = (rng.standard_normal((len(idx), RANK)) * scales) @ basis
        noise = 0.35 * rng.standard_normal((len(idx), DIM)) / np.sqrt(DIM)
        out[idx] = 0.5 * shared + centres[c] + spread + noise
    return normalise(out), assign


def exact_top(queries: Array, data: Array, k: int = 10) -> tuple[list[list[str]], Array]:
    """Exact top `k` object ids by cosine (all vectors are unit length), and each query's best cosine."""
    scores = queries @ data.T
    head = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.take_along_axis(head, np.argsort(-np.take_along_axis(scores, head, axis=1)), axis=1)
    return [[object_id(i) for i in row] for row in order], scores.max(axis=1)


def object_id(i: int) -> str:
    return f"v{i:06d}"


async def connect(url: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(url)
    await register_vector(conn)
    return conn


async def intact(conn: asyncpg.Connection, collection: Collection, data: Array) -> bool:
    """Whether the collection holds exactly this data set, with both HNSW indexes built."""
    t = tables(collection)
    parts = await conn.fetchval(t.sql("SELECT count(*) FROM {parts}"))
    built = await conn.fetchval(
        "SELECT count(*) FROM pg_indexes WHERE indexname = ANY($1::text[])",
        [f"{t.parts_name}_hnsw", f"{t.objects_name}_hnsw"],
    )
    last = await conn.fetchval(
        t.sql("SELECT vector FROM {parts} WHERE object_id = $1"), object_id(N_VECTORS - 1)
    )
    same = last is not None and np.allclose(last.to_numpy(), data[N_VECTORS - 1], atol=1e-6)
    return bool(parts == N_VECTORS and built == 2 and same)


async def load(
    ctx: Context, conn: asyncpg.Connection, collection: Collection, data: Array, assign: Any
) -> str:
    """Write every vector through the store, HNSW indexes dropped, then rebuild them as the store does."""
    copied, built = await write_vectors(
        ctx,
        conn,
        collection,
        data,
        object_id,
        lambda i: f"synthetic vector {i} of cluster {assign[i]}",
        lambda i: {"cluster": int(assign[i]), "n": i},
    )
    return f"loaded: {N_VECTORS} objects written in {copied:.0f} s; both HNSW indexes built in {built:.0f} s"


Call = Callable[[int], Awaitable[None]]


class Timing(NamedTuple):
    """One row's measurements: latencies (s), calls per second, and the CPU each call cost the whole
    machine (client, web process, Postgres) and this client alone, in ms."""

    latencies: list[float]
    rate: float
    cpu_ms: float
    client_ms: float


async def timed(call: Call, clients: int, total: int) -> Timing:
    """`total` calls shared by `clients` concurrent loops, timed."""
    for i in range(min(50, total)):  # warm-up: connections, caches, the blue pointer
        await call(i)
    numbers, latencies = iter(range(total)), []
    busy, own = machine_busy_s(), time.process_time()

    async def client() -> None:
        for i in numbers:
            began = time.perf_counter()
            await call(i)
            latencies.append(time.perf_counter() - began)

    began = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    rate = total / (time.perf_counter() - began)
    cpu_ms, client_ms = (machine_busy_s() - busy) * 1000 / total, (time.process_time() - own) * 1000 / total
    return Timing(latencies, rate, cpu_ms, client_ms)


def text_queries(total: int) -> list[str]:
    """Distinct query texts (no cache can answer a repeat): Cranfield's when present."""
    folder = dataset_or_none(None)
    base = list(beir.load(folder).queries.values()) if folder else ["wing flutter at supersonic speed"]
    return [
        q if i < len(base) else f"{q} {i // len(base)}"
        for i, q in ((i, base[i % len(base)]) for i in range(total))
    ]


async def measure(url: str, key: str, args: argparse.Namespace, data: Array, assign: Any) -> list[str]:
    config = load_config()
    ctx = await build_context(config, role="bench")
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    http = aiohttp.ClientSession(
        base_url=url,
        headers=headers,
        connector=aiohttp.TCPConnector(limit=16),
        timeout=aiohttp.ClientTimeout(total=60),
    )
    conn = await connect(config.database.url)
    try:
        async with http.post("/indexes", json={"name": INDEX}) as made:
            made.raise_for_status()
        collection = await ctx.collections.blue(INDEX)
        if collection is None or collection.dim != DIM:
            raise RuntimeError(f"{INDEX} has no blue collection of dimension {DIM}: {collection}")
        if args.rebuild or not await intact(conn, collection, data):
            print(await load(ctx, conn, collection, data, assign))
        else:
            print(f"reused: {INDEX} already holds this data set (--rebuild loads it again)")
        queries = data[N_VECTORS:]
        exact, nearest = exact_top(queries, data[:N_VECTORS])
        pairs = np.sum(queries[:100] * queries[100:200], axis=1)
        print(
            f"data: {CLUSTERS} clusters; median cosine of a query and its nearest vector"
            f" {np.median(nearest):.3f}, of two random queries {np.median(pairs):.3f}"
        )
        return await figures(ctx, http, conn, collection, queries, exact, args)
    finally:
        await conn.close()
        await http.close()
        await close_context(ctx)


async def figures(
    ctx: Context,
    http: aiohttp.ClientSession,
    conn: asyncpg.Connection,
    collection: Collection,
    queries: Array,
    exact: list[list[str]],
    args: argparse.Namespace,
) -> list[str]:
    ef = ctx.config.search.ef_search
    parts_sql = RAW_SQL.format(parts=tables(collection).parts_name)
    recall_rows = []
    for ef_search in sorted({40, ef, 200}):
        await conn.execute(f"SET hnsw.ef_search = {int(ef_search)}")
        found = [[r["object_id"] for r in await conn.fetch(parts_sql, q, 10)] for q in queries]
        recall_rows.append((f"raw SQL, hnsw.ef_search={ef_search}", _recall(found, exact)))
    requests = [
        msgspec.convert({"index": INDEX, "vector": q.tolist(), "limit": 10}, SearchRequest) for q in queries
    ]
    answers = [await handler.search(msgspec.structs.replace(r, include_payload=False), ctx) for r in requests]
    recall = _recall([[h.object_id for h in a.hits] for a in answers], exact)
    recall_rows.append((f"search handler, best_part, config ef_search={ef}", recall))
    print_table(["recall@10 against exact numpy (200 held-out queries)", "recall@10"], recall_rows)

    # The floor: the search's own HNSW settings as connection defaults, and no reset on release, so
    # each call is exactly one round trip on a connection nothing else uses.
    pool = await asyncpg.create_pool(
        ctx.config.database.url,
        min_size=8,
        max_size=8,
        init=register_vector,
        reset=_no_reset,
        server_settings={"hnsw.ef_search": str(ef), "hnsw.iterative_scan": "strict_order"},
    )
    bodies = [json.dumps({"index": INDEX, "vector": q.tolist(), "limit": 10}) for q in queries]
    texts = text_queries(max(args.requests // 2, 1))

    async def raw(i: int) -> None:
        await pool.fetch(parts_sql, queries[i % len(queries)], 10)

    async def in_process(i: int) -> None:
        await handler.search(requests[i % len(requests)], ctx)

    async def over_http(i: int) -> None:
        await post_similar(http, bodies[i % len(bodies)])

    async def end_to_end(i: int) -> None:
        await post_similar(http, json.dumps({"index": INDEX, "query": texts[i], "limit": 10}))

    plan: list[tuple[str, Call, int, int]] = [
        (f"raw SQL ORDER BY <=> LIMIT 10 (ef_search {ef})", raw, 1, args.requests),
        ("search handler in-process, vector=", in_process, 1, args.requests),
        ("POST /search/similar, vector=", over_http, 1, args.requests),
        (f"raw SQL ORDER BY <=> LIMIT 10 (ef_search {ef})", raw, 8, args.requests),
        ("search handler in-process, vector=", in_process, 8, args.requests),
        ("POST /search/similar, vector=", over_http, 8, args.requests),
        ("POST /search/similar, text query (e2e)", end_to_end, 10, len(texts)),
    ]
    timings: list[Timing] = []
    try:
        for _, call, clients, total in plan:
            timings.append(await timed(call, clients, total))
    finally:
        await pool.close()
    p = [ms_percentiles(t.latencies) for t in timings]
    rows = [
        (name, clients, total, *p[i], t.rate, t.cpu_ms, t.client_ms)
        for i, ((name, _, clients, total), t) in enumerate(zip(plan, timings, strict=True))
    ]
    print_table(
        [
            "path (100k vectors, top 10)",
            "clients",
            "requests",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "req/s",
            "CPU ms/req",
            "client CPU ms/req",
        ],
        rows,
    )
    floor = p[0][0]
    handler_ratio, http_ratio = p[1][0] / floor, p[2][0] / floor
    print(f"p50 / raw SQL p50 at 1 client: handler {handler_ratio:.2f}, HTTP vector= {http_ratio:.2f}")
    rate, cores = timings[5].rate, len(os.sched_getaffinity(0))
    print(f"one web process, vector= at 8 clients: {rate:.0f}/s on {cores} cores ({rate / cores:.0f}/core)")
    # A closed loop of n clients on c cores cannot beat n x (CPU per request) / c per request: the
    # floor that the machine's own arithmetic sets for the e2e row, whatever the server does.
    e2e, e2e_clients = timings[6], plan[6][2]
    print(
        f"text queries at {e2e_clients} clients: {e2e.cpu_ms:.2f} ms of CPU per search on this machine"
        f" (this client {e2e.client_ms:.2f}), so a search waits at least {e2e_clients} x {e2e.cpu_ms:.2f}"
        f" / {cores} = {e2e_clients * e2e.cpu_ms / cores:.1f} ms on average"
    )
    parity = await query_parity(ctx)
    return [
        f"search_recall_at_10: {recall:.4f}",
        f"search_p99_ms: {p[2][2]:.2f}",
        f"search_http_vs_raw_p50: {http_ratio:.2f}",
        f"search_e2e_p95_ms_c10: {p[6][1]:.2f}",
        f"query_embed_parity_min_cosine: {parity:.6f}",
    ]


def _recall(found: list[list[str]], exact: list[list[str]]) -> float:
    return float(np.mean([recall_at_k(f, e, 10) for f, e in zip(found, exact, strict=True)]))


async def _no_reset(conn: asyncpg.Connection) -> None:
    """Release without asyncpg's reset query: the floor's connections never change session state."""


async def post_similar(http: aiohttp.ClientSession, body: str) -> None:
    async with http.post("/search/similar", data=body) as answer:
        answer.raise_for_status()
        await answer.read()


def main() -> None:
    args = arguments()
    env, key = bench_environment()
    began = time.perf_counter()
    data, assign = mixture(N_VECTORS + N_QUERIES)
    took = time.perf_counter() - began
    print(f"search bench: {N_VECTORS} vectors + {N_QUERIES} held-out queries generated in {took:.1f} s")
    with running_stack(args.port, env, LOG_DIR) as url:
        headlines = asyncio.run(measure(url, key, args, data, assign))
    print("\n".join(headlines))


if __name__ == "__main__":
    main()
