"""Team Draft Interleaving (Radlinski, Kurup and Joachims, "How does clickthrough data reflect retrieval
quality?", CIKM 2008), and the credit a session's clicks give each side.

Two rankers draft results like captains picking teams: in each round the side with fewer picks so far
(a seeded coin when they have as many) adds its best result not yet shown. Each shown position
remembers the side that picked it; a click credits that side. Because each side places its picks
at the ranks its own list would have reached, neither gains from position bias on average, which is
what lets clicks on one merged list compare the two rankers (Chapelle, Joachims, Radlinski and Yue,
TOIS 2012).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Sequence
from typing import Literal

Side = Literal["control", "candidate"]
Outcome = Literal["control", "candidate", "tie"]
SIDES: tuple[Side, Side] = ("control", "candidate")


def interleave(
    control: Sequence[str], candidate: Sequence[str], limit: int, seed: int
) -> list[tuple[str, Side]]:
    """At most `limit` distinct ids drafted from the two rankings, each with the side that picked it.

    Drafting follows TDI while both sides have results left; once one side has none, the other fills the
    rest of the page (a short page would cost users results to make the test tidier), those picks still
    credited to it."""
    rng = random.Random(seed)
    lists: dict[Side, Sequence[str]] = {"control": control, "candidate": candidate}
    cursor: dict[Side, int] = {"control": 0, "candidate": 0}
    picks: dict[Side, int] = {"control": 0, "candidate": 0}
    shown: set[str] = set()
    merged: list[tuple[str, Side]] = []

    def next_of(side: Side) -> str | None:
        ranking = lists[side]
        while cursor[side] < len(ranking) and ranking[cursor[side]] in shown:
            cursor[side] += 1
        return ranking[cursor[side]] if cursor[side] < len(ranking) else None

    while len(merged) < limit:
        left = [side for side in SIDES if next_of(side) is not None]
        if not left:
            break
        if len(left) == 1:
            side = left[0]
        elif picks["control"] != picks["candidate"]:
            side = min(SIDES, key=lambda s: picks[s])
        else:
            side = SIDES[rng.randrange(2)]  # drawn on every tied round, so the seed fixes the whole page
        item = next_of(side)
        assert item is not None
        shown.add(item)
        picks[side] += 1
        merged.append((item, side))
    return merged


def credit(sides: Sequence[Side], clicked_positions: Iterable[int]) -> Outcome | None:
    """The outcome of one session on an interleaved page: the side whose picks got more clicks, a tie
    when they got as many, None when no click landed on the page (the session says nothing).
    `sides[i]` is who picked position i (0-based); a position clicked twice counts once."""
    counts = {"control": 0, "candidate": 0}
    for position in set(clicked_positions):
        if 0 <= position < len(sides):
            counts[sides[position]] += 1
    if counts["control"] == counts["candidate"]:
        return "tie" if counts["control"] else None
    return "control" if counts["control"] > counts["candidate"] else "candidate"


def stable_unit(key: str) -> float:
    """A number in [0, 1) fixed by `key` in every process and run (Python's hash() is salted per process)."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def takes_part(key: str, share: float) -> bool:
    """Whether the search keyed `key` is interleaved when `share` of searches are."""
    return stable_unit(key) < share


def seed_of(key: str) -> int:
    """The coin seed of the search keyed `key`: the same request drafts the same page."""
    return int.from_bytes(hashlib.blake2b(b"coin\0" + key.encode(), digest_size=8).digest(), "big")
