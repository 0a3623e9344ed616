"""The query cache is an LRU of copies, and in front of the batcher a hit never reaches the encoder."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np
import pytest

from functions.records import Vectors
from jobs.embedding.query_batcher import QueryBatcher
from jobs.embedding.query_cache import QueryCache


def vec(*values: float) -> Vectors:
    return np.array(values, dtype=np.float32)


def test_least_recently_used_is_evicted_first() -> None:
    cache = QueryCache(2)
    cache.put("a", vec(1.0))
    cache.put("b", vec(2.0))
    assert cache.get("a") is not None  # "a" is now the most recent: "b" goes next
    cache.put("c", vec(3.0))
    assert cache.get("b") is None
    assert [float(cache.get(k)[0]) for k in ("a", "c")] == [1.0, 3.0]  # type: ignore[index]
    assert len(cache) == 2
    assert (cache.hits, cache.misses) == (3, 1)


def test_putting_a_known_text_replaces_it_and_makes_it_recent() -> None:
    cache = QueryCache(2)
    cache.put("a", vec(1.0))
    cache.put("b", vec(2.0))
    cache.put("a", vec(5.0))
    cache.put("c", vec(3.0))
    assert cache.get("b") is None
    assert cache.get("a").tolist() == [5.0]  # type: ignore[union-attr]


def test_size_zero_keeps_nothing() -> None:
    cache = QueryCache(0)
    cache.put("a", vec(1.0))
    assert (cache.get("a"), len(cache)) == (None, 0)


def test_negative_size_is_refused() -> None:
    with pytest.raises(ValueError, match="max_size"):
        QueryCache(-1)


def test_vectors_are_copied_in_and_out() -> None:
    cache = QueryCache(4)
    given = vec(1.0, 2.0)
    cache.put("a", given)
    given[0] = 9.0
    out = cache.get("a")
    assert out is not None
    out[1] = 9.0
    assert cache.get("a").tolist() == [1.0, 2.0]  # type: ignore[union-attr]
    assert out.dtype == np.float32


def test_keys_are_exact_texts() -> None:
    cache = QueryCache(4)
    cache.put("query: x", vec(1.0))
    assert cache.get("x") is None
    assert cache.get("query: x ") is None


async def test_a_hit_in_front_of_the_batcher_skips_the_encoder() -> None:
    calls: list[list[str]] = []

    async def encode(texts: Sequence[str]) -> Vectors:
        calls.append(list(texts))
        await asyncio.sleep(0)
        return np.array([[float(len(t)), 1.0] for t in texts], dtype=np.float32)

    cache = QueryCache(8)
    batcher = QueryBatcher(encode, cache=cache, prefix="query: ")
    first = await batcher.embed_one("abc")
    again = await batcher.embed_one("abc")
    assert calls == [["abc"]]
    assert first.tolist() == again.tolist() == [3.0, 1.0]
    assert cache.get("query: abc") is not None  # keyed by the text the encoder is given, prefix included
    again[0] = 0.0
    assert (await batcher.embed_one("abc")).tolist() == [3.0, 1.0]
    await batcher.embed_one("other")
    assert calls == [["abc"], ["other"]]


async def test_a_failed_encode_is_not_cached() -> None:
    async def encode(texts: Sequence[str]) -> Vectors:
        raise RuntimeError("model crashed")

    cache = QueryCache(8)
    with pytest.raises(RuntimeError):
        await QueryBatcher(encode, cache=cache).embed_one("q")
    assert len(cache) == 0
