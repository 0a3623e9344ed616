"""One simulated experiment, replayed with the product's own rules on fixed rankings: Team Draft
Interleaving with each search's own coin (functions/interleaving), the credit of each session's clicks
and the tally (functions/experiments/logic), the mixture SPRT checked after every session
(functions/experiments/sequential). Users come from sim/click_model.py and the catalogue's judgements.

Checking after every session is the most peeking any deployment does (the sweep checks every few
seconds), so an A/A false-switch rate measured here bounds the live one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from functions.config import ExperimentsConfig
from functions.experiments.logic import tally
from functions.experiments.sequential import Tally, decide
from functions.interleaving.team_draft import interleave, seed_of
from functions.records import InterleavedSession
from sim.click_model import ClickModel, sample_session


@dataclass(frozen=True)
class Outcome:
    """How one run ended: the verdict (None: out of sessions without one), credited sessions, searches."""

    verdict: str | None
    sessions: int
    searches: int


def run(
    control: Mapping[str, Sequence[str]],
    candidate: Mapping[str, Sequence[str]],
    qrels: Mapping[str, Mapping[str, int]],
    users: ClickModel,
    cfg: ExperimentsConfig,
    seed: int,
    limit: int = 10,
    positive: Sequence[str] = ("click", "add_to_cart", "purchase"),
) -> Outcome:
    """Sessions of new users, each on a random query, until the test decides (or a generous cap)."""
    rng = np.random.default_rng(seed)
    queries = sorted(set(control) & set(candidate))
    total = Tally()
    cap = 20 * cfg.max_sessions  # searches: most sessions credit no click
    for n in range(cap):
        qid = queries[int(rng.integers(len(queries)))]
        drafted = interleave(control[qid], candidate[qid], limit, seed_of(f"{seed}:{n}:{qid}"))
        events = sample_session([object_id for object_id, _ in drafted], qrels.get(qid, {}), users, rng)
        clicked = sorted({e.rank - 1 for e in events if e.type in positive})
        session = InterleavedSession(session_id=str(n), sides=[s for _, s in drafted], clicked=clicked)
        one, _ = tally([session])  # the product's credit of this session
        if not one.sessions:
            continue
        total = Tally(
            candidate=total.candidate + one.candidate,
            control=total.control + one.control,
            ties=total.ties + one.ties,
        )
        decision = decide(
            total, alpha=cfg.alpha, tau=cfg.tau, min_sessions=cfg.min_sessions, max_sessions=cfg.max_sessions
        )
        if decision.verdict is not None:
            return Outcome(verdict=decision.verdict, sessions=total.sessions, searches=n + 1)
    return Outcome(verdict=None, sessions=total.sessions, searches=cap)
