"""on_blue with an in-memory pointer: a stale cached collection costs one fresh lookup and a retry."""

from __future__ import annotations

import itertools
from types import SimpleNamespace
from typing import Any

import pytest

from functions.errors import NotFound, Unavailable
from functions.ports import StaleCollection
from functions.records import Collection, NewCollection
from functions.search.handler import on_blue
from tests.support.fakes import FakeCollections


def collection(cid: str) -> NewCollection:
    return NewCollection(
        id=cid, index_name="books", model_name="m", model_version="base", dim=3, metric="cosine"
    )


async def books(cached: str) -> FakeCollections:
    """An index whose blue collection `cached` this process has read and cached."""
    store = FakeCollections()
    await store.create_index("books", collection(cached))
    await store.blue("books")
    store.asked.clear()
    return store


async def moved_elsewhere(store: FakeCollections, cid: str | None) -> None:
    """Another process switches the index to `cid` (None: drops the index)."""
    if cid is not None:
        await store.add_collection(collection(cid))
    store.move_elsewhere("books", cid)


def context(store: FakeCollections) -> Any:
    return SimpleNamespace(collections=store)  # on_blue reads nothing else


async def test_a_stale_pointer_is_refreshed_and_the_read_retried() -> None:
    store = await books(cached="old")
    await moved_elsewhere(store, "new")
    tried: list[str] = []

    async def attempt(c: Collection) -> str:
        tried.append(c.id)
        if c.id != "new":
            raise StaleCollection(c.id)
        return c.id

    assert await on_blue("books", context(store), attempt) == "new"
    assert tried == ["old", "new"]
    assert store.asked == [float("inf"), 0.0]


async def test_a_flapping_pointer_gives_up_and_a_gone_index_is_not_found() -> None:
    store, names = await books(cached="a"), (f"c{n}" for n in itertools.count())

    async def always_stale(c: Collection) -> str:
        await moved_elsewhere(store, next(names))  # every read finds the pointer moved again
        raise StaleCollection(c.id)

    with pytest.raises(Unavailable, match="kept changing"):
        await on_blue("books", context(store), always_stale)
    gone = await books(cached="a")
    await moved_elsewhere(gone, None)
    with pytest.raises(NotFound) as caught:
        await on_blue("books", context(gone), always_stale)
    assert caught.value.field == "index"
