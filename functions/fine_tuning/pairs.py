"""Sessions → per-query feedback: weighted positives, session negatives, false negatives removed.

Pure rules, tested on literal sessions. Sessions of the same query (normalised text) are merged into
one QueryFeedback. A positive's weight is its events' summed weight (`sum`) or that sum divided by its
expected examinations (`ips`); session negatives are the results skipped above a click
(`skipped_above`), the results shown high and never engaged in any session (`unclicked`), or none. An
item clicked for the query in any session is never one of its negatives (a false negative).
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from functions.config import NegativesMode, Weighting
from functions.feedback.event_weights import EventWeighing as Weighing
from functions.feedback.event_weights import dwell_factor
from functions.records import FeedbackSession, Vectors

# ips divides by at least one examination: a result shown rarely or deep (or clicked off the shown
# list) would otherwise be inflated by one lucky click (see docs/fine-tuning.md).
MIN_EXAMINATIONS = 1.0


@dataclass(frozen=True, slots=True)
class Policy:
    """How positives weigh and where session negatives come from (a preset's keys)."""

    weighting: Weighting = "sum"
    negatives: NegativesMode = "skipped_above"
    negatives_depth: int = 10


@dataclass(slots=True)
class QueryFeedback:
    """Everything the sessions of one normalised query say: object → positive weight, the session
    negatives (`skipped`, per the policy; false negatives already removed), and a query vector."""

    key: str
    query: str
    positives: dict[str, float] = field(default_factory=dict)
    skipped: set[str] = field(default_factory=set)
    sessions: int = 0
    vector: Vectors | None = None

    def ranked_positives(self) -> list[tuple[str, float]]:
        """Positives best first (ties by id, so the order is deterministic)."""
        return sorted(self.positives.items(), key=lambda kv: (-kv[1], kv[0]))


@dataclass(slots=True)
class _Shown:
    """What every session of a query showed, clicked or not: expected examinations per object
    (Σ 1/rank, the position-bias model the click simulator follows), the objects shown at rank ≤ the
    policy's depth, and every object an event named."""

    examinations: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    top: set[str] = field(default_factory=set)
    engaged: set[str] = field(default_factory=set)

    def add(self, session: FeedbackSession, depth: int) -> None:
        for rank, oid in enumerate(session.shown, start=session.shown_offset + 1):
            self.examinations[oid] += 1.0 / rank
            if rank <= depth:
                self.top.add(oid)
        # Any event on an object (whatever it weighs) means the user acted on it: never "unclicked".
        self.engaged |= {e.object_id for e in session.events if e.object_id is not None}


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


def merge_sessions(
    sessions: Iterable[FeedbackSession], rules: Weighing, policy: Policy | None = None
) -> list[QueryFeedback]:
    """One QueryFeedback per normalised query that has at least one positive, sorted by key. The
    displayed query is the first session's text; the vector the first one a session carried.
    Sessions without a positive still count as exposures (ips) and shown lists (unclicked). No
    policy: summed weights and skipped-above negatives."""
    policy = policy or Policy()
    merged: dict[str, QueryFeedback] = {}
    shown: dict[str, _Shown] = defaultdict(_Shown)
    for session in sessions:
        key = normalise_query(session.query)
        if not key:
            continue
        shown[key].add(session, policy.negatives_depth)
        positives = session_positives(session, rules)
        if not positives:
            continue
        fb = merged.setdefault(key, QueryFeedback(key=key, query=session.query.strip()))
        fb.sessions += 1
        for oid, weight in positives.items():
            fb.positives[oid] = fb.positives.get(oid, 0.0) + weight
        if policy.negatives == "skipped_above":
            fb.skipped |= skipped_above(session, positives)
        if fb.vector is None and session.query_vector is not None:
            fb.vector = session.query_vector
    for fb in merged.values():
        seen = shown[fb.key]
        if policy.negatives == "unclicked":
            fb.skipped = seen.top - seen.engaged
        # The false-negative guard, over every session of the query (before ips reweighs positives).
        fb.skipped -= fb.positives.keys()
        if policy.weighting == "ips":
            fb.positives = {
                oid: w / max(seen.examinations.get(oid, 0.0), MIN_EXAMINATIONS)
                for oid, w in fb.positives.items()
            }
    return [merged[k] for k in sorted(merged)]


def explored(sessions: Iterable[FeedbackSession], rules: Weighing) -> int:
    """Engaged results that an experiment's candidate placed on an interleaved list: documents the
    champion did not put there, which the next model now learns from at the rank users saw them."""
    count = 0
    for session in sessions:
        if not session.sides:
            continue
        side = dict(zip(session.shown, session.sides, strict=False))
        count += sum(side.get(oid) == "candidate" for oid in session_positives(session, rules))
    return count


def usable_sessions(feedback: Sequence[QueryFeedback]) -> int:
    """Sessions that gave at least one positive (what min_sessions counts)."""
    return sum(fb.sessions for fb in feedback)


def negatives_for(fb: QueryFeedback, mined: Sequence[str], cap: int) -> list[str]:
    """Session negatives first (sorted), then mined hard negatives in their order, never a positive
    of the query and never twice; at most `cap`."""
    out: list[str] = []
    for oid in [*sorted(fb.skipped), *mined]:
        if len(out) >= cap:
            break
        if oid not in fb.positives and oid not in out:
            out.append(oid)
    return out
