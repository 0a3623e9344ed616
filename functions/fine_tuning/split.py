"""Train / evaluation split by query: deterministic from the seed, no query on both sides."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TypeVar

from functions.fine_tuning.pairs import QueryFeedback

Q = TypeVar("Q", bound=QueryFeedback)


def query_draw(seed: int, key: str) -> float:
    """A uniform number in [0, 1) fixed by the seed and the normalised query (sha256, not hash():
    Python's string hash changes between processes)."""
    digest = hashlib.sha256(f"{seed}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_by_query(feedback: Sequence[Q], eval_fraction: float, seed: int) -> tuple[list[Q], list[Q]]:
    """(train, eval): a query goes to eval when its draw is below `eval_fraction`. With two or more
    queries each side keeps at least one (the query with the lowest draw evaluates, the highest trains),
    so a small set still gives a gate to pass. Both lists keep the input order."""
    draws = {fb.key: query_draw(seed, fb.key) for fb in feedback}
    held = {key for key, d in draws.items() if d < eval_fraction}
    if len(draws) >= 2:
        ordered = sorted(draws, key=lambda k: (draws[k], k))
        if not held:
            held.add(ordered[0])
        if len(held) == len(draws):
            held.discard(ordered[-1])
    train = [fb for fb in feedback if fb.key not in held]
    evaluation = [fb for fb in feedback if fb.key in held]
    return train, evaluation


def query_id(key: str, prefix: str = "q_") -> str:
    """A stable id of a normalised query (eval queries are named by it; held-out objects' spans by
    their object id, prefix "c_")."""
    return prefix + hashlib.sha256(key.encode()).hexdigest()[:16]
