"""Records of search's first fetch: what it asks of the blue collection, and what comes back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from functions.records.arrays import Vectors
from functions.records.collections import PartHit
from functions.records.filters import Filter
from functions.structs import Struct


@dataclass(frozen=True, slots=True)
class NearestQuery:
    """The `k` parts nearest to `vector` (of objects matching `where`), for a page reaching `needed`
    objects from `offset`; `personal_user` is the user whose personal vectors would rank (None: none)."""

    vector: Vectors
    k: int
    where: Filter | None
    needed: int
    offset: int
    payloads: bool
    personal_user: str | None


class FirstPage(Struct, frozen=True, kw_only=True):
    """The parts found, nearest first (without their text); the best part's chunk and the payload of
    each object the store took for the page; whether the collection has personal vectors at all; and
    the object ids the search record was written with (None when the store wrote none: personal
    vectors or too few objects found)."""

    parts: list[PartHit]
    chunks: dict[str, str]
    payloads: dict[str, dict[str, Any]]
    has_personal: bool
    recorded: list[str] | None
