"""What the console's pages show: plain structs, rendered by app/console."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec
from msgspec import Struct

Role = Literal["blue", "rollback", "building", "candidate", "old"]


class CollectionView(Struct, frozen=True, kw_only=True):
    """One collection of an index and what it is there for; `until`: when a rollback target may go."""

    id: str
    model_name: str
    model_version: str
    role: Role
    created_at: datetime
    objects: int = 0
    parts: int = 0
    until: datetime | None = None


class QualityPoint(Struct, frozen=True, kw_only=True):
    """One fine-tuning task's held-out evaluation: the champion it ran against and the challenger."""

    task_id: str
    at: datetime
    version: str | None  # the challenger's registered version (None: refused before registration)
    base_version: str | None
    evaluated_on: str  # "clicks" or "corpus"
    champion: dict[str, float]
    challenger: dict[str, float]
    promoted: bool
    rule: str


class TrafficView(Struct, frozen=True, kw_only=True):
    """An index's traffic per hour over the window, and the window's totals."""

    hours: list[datetime]
    searches: list[int]
    sessions: list[int]
    ctr: list[float | None]  # sessions with a click / sessions, per hour (None: no session)
    irrelevant: list[int]
    applied: list[int]
    drift: list[float | None]  # mean change of a moved object, per hour (None: nothing moved)
    clicks_by_rank: list[int]  # over the window: [i] = clicks at rank i + 1
    totals: dict[str, float] = msgspec.field(default_factory=dict)
