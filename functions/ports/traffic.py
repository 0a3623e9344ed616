"""Port of the console's traffic figures (jobs/stores/traffic.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from functions.records import TrafficHour


class TrafficStore(Protocol):
    """Per-hour traffic of an index, from rolled-up hours and a live read of the newest ones."""

    async def hours(self, index: str, since: datetime, max_rank: int) -> list[TrafficHour]: ...
    async def roll_up(self, index: str, since: datetime, max_rank: int) -> None: ...
