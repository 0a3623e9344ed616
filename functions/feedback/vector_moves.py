"""Pure improvement rules: what a session says about each shown object, and how vectors move. Shared by
online improvement (functions/improvement) and the replay into a new collection (session_replay.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from functions.config import ImprovementConfig
from functions.feedback.event_weights import EventWeighing as FeedbackRules
from functions.feedback.event_weights import dwell_factor
from functions.records import ObjectVectors, SessionFeedback, VectorChange, Vectors

Direction = Literal["toward", "away"]
Matrix = npt.NDArray[np.float64]
# Why a session changes nothing; it is still marked applied, so no sweep picks it up again.
# no_user: only personal adjustments are on, and the session has no user_id.
SkipReason = Literal["irrelevant", "no_query_vector", "no_user", "no_feedback"]


@dataclass(frozen=True, slots=True)
class Move:
    """One object of a session: the fraction of the way its parts move toward (or away from) the query."""

    object_id: str
    direction: Direction
    fraction: float


def session_moves(
    session: SessionFeedback, rules: FeedbackRules, cfg: ImprovementConfig
) -> list[Move] | SkipReason:
    """Engaged objects move toward the query; unengaged ones shown above the last engaged one move away.

    Each positive event is a step of `learning_rate × weight` toward the query; steps compound as
    1 - Π(1 - step), so repeated events add up without ever overshooting the query.
    """
    if session.irrelevant:
        return "irrelevant"
    if session.query_vector is None:
        return "no_query_vector"
    if not cfg.shared and session.user_id is None:
        return "no_user"
    keep: dict[str, float] = {}
    for event in session.events:
        weight = rules.event_weights.get(event.type, 0.0) * dwell_factor(event.dwell_ms, rules)
        if event.object_id is None or weight <= 0:
            continue
        step = min(1.0, cfg.learning_rate * weight)
        keep[event.object_id] = 1.0 - (1.0 - keep.get(event.object_id, 0.0)) * (1.0 - step)
    if not keep:
        return "no_feedback"
    rank = {oid: session.shown_offset + i for i, oid in enumerate(session.shown, start=1)}
    ranks = [rank[oid] for oid in keep if oid in rank]
    ranks += [e.rank for e in session.events if e.object_id in keep and e.object_id not in rank and e.rank]
    last = max(ranks, default=0)
    moves = [Move(object_id=oid, direction="toward", fraction=f) for oid, f in sorted(keep.items())]
    push = cfg.learning_rate * cfg.push_weight
    if push > 0:
        skipped = [oid for oid, r in rank.items() if r < last and oid not in keep]
        moves += [Move(object_id=oid, direction="away", fraction=push) for oid in skipped]
    return moves


def normalize(rows: Matrix) -> Matrix:
    """Each row scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(rows, axis=-1, keepdims=True)
    unit: Matrix = np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)
    return unit


def step(vectors: Matrix, query: Matrix, direction: Direction, fraction: float) -> Matrix:
    """toward: v + f(q - v); away: v - f(q - v), which for unit v, q never nears zero; then unit length."""
    sign = 1.0 if direction == "toward" else -1.0
    return normalize(vectors + sign * fraction * (query - vectors))


def cap_drift(vectors: Matrix, originals: Matrix, max_drift: float) -> Matrix:
    """Rows further than `max_drift` (cosine distance) from their original are moved back along the
    great circle toward it, to exactly `max_drift`; nearer rows are kept."""
    out = vectors.copy()
    cos = np.clip(np.sum(vectors * originals, axis=-1), -1.0, 1.0)
    limit = 1.0 - max_drift
    for i in np.nonzero(cos < limit)[0]:
        # The unit direction from the original toward the new vector, orthogonal to the original.
        ortho = vectors[i] - cos[i] * originals[i]
        norm = float(np.linalg.norm(ortho))
        if norm == 0.0:  # exactly opposite: no unique great circle; stay at the original
            out[i] = originals[i]
            continue
        out[i] = limit * originals[i] + np.sqrt(max(0.0, 1.0 - limit * limit)) * ortho / norm
    return out


def mean_vector(parts: Matrix) -> Matrix:
    """The normalised mean of an object's parts (its `average` search vector)."""
    mean: Matrix = normalize(parts.mean(axis=0, keepdims=True))[0]
    return mean


def moved(
    base: Vectors, original: Vectors, query: Vectors, move: Move, cfg: ImprovementConfig
) -> tuple[Vectors, Vectors, float]:
    """New part vectors, their average, and the mean L2 size of the change per part."""
    start = np.asarray(base, dtype=np.float64)
    # A search by a caller's raw vector may record one of any length: only its direction counts.
    target = normalize(np.asarray(query, dtype=np.float64)[None, :])
    new = step(start, target, move.direction, move.fraction)
    new = cap_drift(normalize(new), normalize(np.asarray(original, dtype=np.float64)), cfg.max_drift)
    delta = float(np.mean(np.linalg.norm(new - start, axis=-1)))
    return new.astype(np.float32), mean_vector(new).astype(np.float32), delta


def changes(
    moves: Sequence[Move],
    found: Mapping[str, ObjectVectors],
    query: Vectors,
    cfg: ImprovementConfig,
    user_id: str | None,
) -> list[VectorChange]:
    """Shared changes (if on) and the user's personal ones (if on and the session has a user), each
    from the vectors as they were before this session; objects no longer stored are left out."""
    out: list[VectorChange] = []
    for move in moves:
        obj = found.get(move.object_id)
        if obj is None:
            continue
        original = obj.parts if obj.original_parts is None else obj.original_parts
        bases: list[tuple[str | None, Vectors, Vectors]] = []
        if cfg.shared:
            bases.append((None, obj.parts, obj.average))
        if cfg.personal and user_id is not None:
            if obj.personal_parts is not None and obj.personal_average is not None:
                bases.append((user_id, obj.personal_parts, obj.personal_average))
            else:  # a user's copy starts from the shared vectors
                bases.append((user_id, obj.parts, obj.average))
        for owner, parts, average in bases:
            new, new_average, delta = moved(parts, original, query, move, cfg)
            if delta > 0.0:
                out.append(
                    VectorChange(
                        object_id=move.object_id,
                        user_id=owner,
                        direction=move.direction,
                        parts=new,
                        average=new_average,
                        before_parts=parts,
                        before_average=average,
                        delta=delta,
                    )
                )
    return out
