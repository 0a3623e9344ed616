"""on_blue with an in-memory pointer: a stale cached collection costs one fresh lookup and a retry."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from functions.errors import NotFound, Unavailable
from functions.ports import StaleCollection
from functions.records import Collection
from functions.search.handler import on_blue


def collection(cid: str) -> Collection:
    return Collection(
        id=cid,
        index_name="books",
        model_name="m",
        model_version="base",
        dim=3,
        metric="cosine",
        status="active",
        created_at=datetime(2024, 1, 1, tzinfo=UTC),
    )


class Pointer:
    """A CollectionStore's blue(): the cached answer until asked with max_age 0."""

    def __init__(self, cached: str | None, live: list[str | None]) -> None:
        self.cached = cached
        self.live = live
        self.asked: list[float] = []

    async def blue(self, index: str, *, max_age_s: float = 0.0) -> Collection | None:
        self.asked.append(max_age_s)
        if max_age_s > 0 and self.cached is not None:
            return collection(self.cached)
        current = self.live.pop(0)
        return None if current is None else collection(current)


def context(pointer: Pointer) -> Any:
    return SimpleNamespace(collections=pointer)


async def test_a_stale_pointer_is_refreshed_and_the_read_retried() -> None:
    pointer = Pointer(cached="old", live=["new"])
    tried: list[str] = []

    async def attempt(c: Collection) -> str:
        tried.append(c.id)
        if c.id != "new":
            raise StaleCollection(c.id)
        return c.id

    assert await on_blue("books", context(pointer), attempt) == "new"
    assert tried == ["old", "new"]
    assert pointer.asked == [float("inf"), 0.0]


async def test_a_flapping_pointer_gives_up_and_a_gone_index_is_not_found() -> None:
    async def always_stale(c: Collection) -> str:
        raise StaleCollection(c.id)

    with pytest.raises(Unavailable, match="kept changing"):
        await on_blue("books", context(Pointer(cached="a", live=["b", "c", "d"])), always_stale)
    with pytest.raises(NotFound) as caught:
        await on_blue("books", context(Pointer(cached="a", live=[None])), always_stale)
    assert caught.value.field == "index"
