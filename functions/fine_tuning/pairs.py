"""Sessions → per-query feedback: weighted positives, skipped-above negatives, false negatives removed.

Pure rules, tested on literal sessions. Sessions of the same query (normalised text) are merged into
one QueryFeedback: their positive weights add up, and an item clicked for that query in any session is
never one of its negatives (it is a false negative, not a bad result).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from functions.event_weights import EventWeighing as Weighing
from functions.event_weights import dwell_factor
from functions.feedback_records import FeedbackSession
from functions.ports import Vectors


@dataclass(slots=True)
class QueryFeedback:
    """Everything the sessions of one normalised query say: object → summed positive weight, the
    objects skipped above a click (false negatives already removed), and a query vector to mine with."""

    key: str
    query: str
    positives: dict[str, float] = field(default_factory=dict)
    skipped: set[str] = field(default_factory=set)
    sessions: int = 0
    vector: Vectors | None = None

    def ranked_positives(self) -> list[tuple[str, float]]:
        """Positives best first (ties by id, so the order is deterministic)."""
        return sorted(self.positives.items(), key=lambda kv: (-kv[1], kv[0]))


def normalise_query(query: str) -> str:
    """The merge key of a query: NFKC, case-folded, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", query).casefold().split())


def session_positives(session: FeedbackSession, rules: Weighing) -> dict[str, float]:
    """Object → summed weight of its events in this session (events of weight 0 do not count)."""
    weights: dict[str, float] = {}
    for event in session.events:
        weight = rules.event_weights.get(event.type, 0.0) * dwell_factor(event.dwell_ms, rules)
        if event.object_id is not None and weight > 0:
            weights[event.object_id] = weights.get(event.object_id, 0.0) + weight
    return weights


def skipped_above(session: FeedbackSession, positives: Mapping[str, float]) -> set[str]:
    """Shown objects ranked above the last engaged one that were not engaged themselves."""
    rank = {oid: session.shown_offset + i for i, oid in enumerate(session.shown, start=1)}
    ranks = [rank[oid] for oid in positives if oid in rank]
    # An engaged object outside `shown` (e.g. from a later page) still marks how far the user looked.
    ranks += [
        e.rank for e in session.events if e.object_id in positives and e.object_id not in rank and e.rank
    ]
    last = max(ranks, default=0)
    return {oid for oid, r in rank.items() if r < last and oid not in positives}


def merge_sessions(sessions: Iterable[FeedbackSession], rules: Weighing) -> list[QueryFeedback]:
    """One QueryFeedback per normalised query that has at least one positive, sorted by key. The
    displayed query is the first session's text; the vector the first one a session carried."""
    merged: dict[str, QueryFeedback] = {}
    for session in sessions:
        positives = session_positives(session, rules)
        if not positives:
            continue
        key = normalise_query(session.query)
        if not key:
            continue
        fb = merged.setdefault(key, QueryFeedback(key=key, query=session.query.strip()))
        fb.sessions += 1
        for oid, weight in positives.items():
            fb.positives[oid] = fb.positives.get(oid, 0.0) + weight
        fb.skipped |= skipped_above(session, positives)
        if fb.vector is None and session.query_vector is not None:
            fb.vector = session.query_vector
    for fb in merged.values():
        fb.skipped -= fb.positives.keys()  # the false-negative guard, over every session of the query
    return [merged[k] for k in sorted(merged)]


def usable_sessions(feedback: Sequence[QueryFeedback]) -> int:
    """Sessions that gave at least one positive (what min_sessions counts)."""
    return sum(fb.sessions for fb in feedback)


def negatives_for(fb: QueryFeedback, mined: Sequence[str], cap: int) -> list[str]:
    """Skipped-above objects first (sorted), then mined hard negatives in their order, never a
    positive of the query and never twice; at most `cap`."""
    out: list[str] = []
    for oid in [*sorted(fb.skipped), *mined]:
        if len(out) >= cap:
            break
        if oid not in fb.positives and oid not in out:
            out.append(oid)
    return out
