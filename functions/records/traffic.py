"""What the console shows of an index's traffic: one row per hour."""

from __future__ import annotations

from datetime import datetime

import msgspec
from msgspec import Struct


class TrafficHour(Struct, frozen=True, kw_only=True):
    """One hour of one index: searches answered, sessions opened in it (and what became of them), and the
    improvements applied in it. Clicks belong to the hour their session opened."""

    hour: datetime
    searches: int = 0
    sessions: int = 0
    clicked: int = 0  # sessions with at least one click
    clicks: int = 0
    irrelevant: int = 0
    applied: int = 0  # sessions whose improvement was applied in this hour
    moves: int = 0  # objects those improvements moved
    drift: float = 0.0  # sum over the moves of their mean L2 change
    clicks_by_rank: list[int] = msgspec.field(default_factory=list)  # [i]: clicks at rank i + 1
