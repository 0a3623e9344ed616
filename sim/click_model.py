"""A position-biased click model for simulated users: which ranks they examine, what they click, how long
they stay, and what they buy.

A user scans the shown list top-down and examines rank r with probability `1 / r ** eta` (position
bias); an examined item is clicked with a probability set by its graded relevance, and a non-relevant
one (grade 0) with `noise_rate`. A share `abandon_rate` of sessions ends with no click at all. Dwell
time grows with the grade (lognormal around a median per grade); a click on an item of grade ≥
`convert_grade` may add it to the cart, and a cart may become a purchase.

Pure: every draw comes from the Generator passed in. `session_rng` derives one from (seed, query, user),
so the same seed gives the same clicks on the same shown list, and each user of a query its own stream.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

DEFAULT_CLICK_PROB = {1: 0.4, 2: 0.7, 3: 0.9, 4: 0.95}
DEFAULT_DWELL_MS = {0: 4_000, 1: 12_000, 2: 20_000, 3: 30_000, 4: 45_000}
DRAWS_PER_RANK = 5  # examine, click, dwell, add to cart, purchase
STANDARD_NORMAL = NormalDist()


@dataclass(frozen=True)
class ClickModel:
    """Parameters of simulated users (grades are the qrels' graded relevance; 0 = not relevant)."""

    eta: float = 1.0
    click_prob: Mapping[int, float] = field(default_factory=lambda: dict(DEFAULT_CLICK_PROB))
    noise_rate: float = 0.05
    abandon_rate: float = 0.1
    dwell_ms: Mapping[int, int] = field(default_factory=lambda: dict(DEFAULT_DWELL_MS))
    dwell_sigma: float = 0.5  # spread of the lognormal dwell around each grade's median
    convert_grade: int = 3
    cart_rate: float = 0.1  # P(add_to_cart | click on an item of grade >= convert_grade)
    purchase_rate: float = 0.3  # P(purchase | add_to_cart)
    think_ms: int = 2_000  # between leaving one result and clicking the next

    def __post_init__(self) -> None:
        rates = {"noise_rate": self.noise_rate, "abandon_rate": self.abandon_rate}
        rates |= {"cart_rate": self.cart_rate, "purchase_rate": self.purchase_rate}
        rates |= {f"click_prob[{g}]": p for g, p in self.click_prob.items()}
        for name, value in rates.items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], not {value}")
        if self.eta < 0 or self.dwell_sigma < 0 or self.think_ms < 0:
            raise ValueError("eta, dwell_sigma and think_ms must not be negative")
        if any(g < 1 for g in self.click_prob):
            raise ValueError("click_prob is keyed by grades >= 1 (grade 0 clicks at noise_rate)")
        if not self.dwell_ms or any(g < 0 or ms < 0 for g, ms in self.dwell_ms.items()):
            raise ValueError("dwell_ms needs at least one grade >= 0 and no negative median")


@dataclass(frozen=True)
class SimEvent:
    """One event of a session; `at_ms` counts from the session's start."""

    type: str  # click | add_to_cart | purchase
    object_id: str
    rank: int
    at_ms: int
    dwell_ms: int | None = None


def p_exam(rank: int, eta: float) -> float:
    """Probability that a user looks at the result at `rank` (1 = top)."""
    if rank < 1:
        raise ValueError(f"ranks start at 1, not {rank}")
    return float(1.0 / rank**eta)


def _by_grade(table: Mapping[int, float], grade: int, below: float) -> float:
    """The entry of the highest grade not above `grade` (`below` when there is none)."""
    known = [g for g in table if g <= grade]
    return float(table[max(known)]) if known else below


def p_click(grade: int, model: ClickModel) -> float:
    """Probability of clicking an examined result of this grade (above the highest known grade: its
    value; grade 0, or below every known grade: the noise rate)."""
    return model.noise_rate if grade <= 0 else _by_grade(model.click_prob, grade, model.noise_rate)


def median_dwell_ms(grade: int, model: ClickModel) -> float:
    """Median dwell on a clicked result of this grade."""
    lowest = model.dwell_ms[min(model.dwell_ms)]
    return _by_grade(model.dwell_ms, max(grade, 0), float(lowest))


def session_rng(seed: int, query_id: str, user: int) -> np.random.Generator:
    """The random stream of one (query, user): stable across runs and processes (no salted hash)."""
    return np.random.default_rng([seed, zlib.crc32(query_id.encode()), user])


def sample_session(
    shown: Sequence[str], grades: Mapping[str, int], model: ClickModel, rng: np.random.Generator
) -> list[SimEvent]:
    """The events of one user on one shown list, in time order (empty: the user abandoned).

    The draws are taken for every rank whether or not used, so a rank's outcome depends only on the
    stream and its position, never on what happened above it."""
    abandoned = rng.random() < model.abandon_rate
    u = rng.random((len(shown), DRAWS_PER_RANK))
    if abandoned:
        return []
    events: list[SimEvent] = []
    at = 0
    for i, object_id in enumerate(shown):
        rank, grade = i + 1, grades.get(object_id, 0)
        if u[i, 0] >= p_exam(rank, model.eta) or u[i, 1] >= p_click(grade, model):
            continue
        # Lognormal dwell from the rank's uniform draw (inverse normal CDF): one draw per quantity.
        z = STANDARD_NORMAL.inv_cdf(min(max(float(u[i, 2]), 1e-12), 1 - 1e-12))
        dwell = round(median_dwell_ms(grade, model) * math.exp(model.dwell_sigma * z))
        at += model.think_ms
        events.append(SimEvent("click", object_id, rank, at, dwell))
        if grade >= model.convert_grade and u[i, 3] < model.cart_rate:
            events.append(SimEvent("add_to_cart", object_id, rank, at + dwell // 2))
            if u[i, 4] < model.purchase_rate:
                events.append(SimEvent("purchase", object_id, rank, at + dwell))
        at += dwell
    return events
