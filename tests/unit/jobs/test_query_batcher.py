"""The query batcher coalesces concurrent calls, keeps each caller's vector, and spreads failures."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np
import pytest

from functions.records import Vectors
from jobs.embedding.query_batcher import QueryBatcher


async def test_concurrent_queries_share_calls_and_get_their_own_vectors() -> None:
    calls: list[list[str]] = []

    async def encode(texts: Sequence[str]) -> Vectors:
        calls.append(list(texts))
        await asyncio.sleep(0.01)
        return np.array([[float(len(t))] for t in texts], dtype=np.float32)

    batcher = QueryBatcher(encode, max_batch=8)
    texts = ["a" * n for n in range(1, 21)]
    vectors = await asyncio.gather(*(batcher.embed_one(t) for t in texts))
    assert [float(v[0]) for v in vectors] == [float(len(t)) for t in texts]
    assert [len(c) for c in calls] == [8, 8, 4]  # 20 waiting queries, 3 model calls


async def test_a_lone_query_waits_for_nobody() -> None:
    async def encode(texts: Sequence[str]) -> Vectors:
        return np.zeros((len(texts), 3), dtype=np.float32)

    batcher = QueryBatcher(encode)
    assert (await asyncio.wait_for(batcher.embed_one("alone"), timeout=1)).shape == (3,)


async def test_a_failed_encode_reaches_every_waiter_and_the_next_call_works() -> None:
    fail = True

    async def encode(texts: Sequence[str]) -> Vectors:
        await asyncio.sleep(0)
        if fail:
            raise RuntimeError("model crashed")
        return np.ones((len(texts), 2), dtype=np.float32)

    batcher = QueryBatcher(encode)
    results = await asyncio.gather(*(batcher.embed_one("q") for _ in range(3)), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    fail = False
    assert (await batcher.embed_one("q")).tolist() == [1.0, 1.0]
    fail = True
    with pytest.raises(RuntimeError):
        await batcher.embed_one("q")
